/*
 * Connection caps (realtime.max_connections, max_per_tenant, max_per_principal,
 * max_unauthenticated_per_ip): what a connection takes when it opens or authenticates
 * and gives back through cn__rt_client_free, counted across every loop. A request over a cap is
 * answered 429 before any upgrade or stream.
 */
#include "core/realtime_int.h"

#include <stdlib.h>
#include <string.h>

const cap_info_t cn__rt_caps[CAP_COUNT] = {
    [CAP_PRINCIPAL] = {"principal", "realtime-connections-per-principal",
                       "realtime.max_per_principal"},
    [CAP_TENANT] = {"tenant", "realtime-connections-per-tenant", "realtime.max_per_tenant"},
    [CAP_ANON] = {"unauthenticated", "realtime-connections-unauthenticated-per-ip",
                  "realtime.max_unauthenticated_per_ip"},
    [CAP_PROCESS] = {"process", "realtime-connections-process", "realtime.max_connections"},
};

/* Takes one of the process's connection slots; -1 when they are all taken. */
static int slot_take(void)
{
    if (atomic_fetch_add(&cn__realtime.n_slots, 1) < cn__realtime.max_connections)
        return 0;
    atomic_fetch_sub(&cn__realtime.n_slots, 1);
    return -1;
}

static struct counter **counter_link(const char *key)
{
    struct counter **pc =
        &cn__realtime.counters[cn_hash_str(key) & (CN_ARRAY_SIZE(cn__realtime.counters) - 1)];
    while (*pc != NULL && strcmp((*pc)->key, key) != 0)
        pc = &(*pc)->next;
    return pc;
}

/* Adds delta to key's counter (under counters_lock); a counter that drops to 0 is freed. */
static void counter_add(const char *key, int delta)
{
    struct counter **pc = counter_link(key);
    if (*pc == NULL) {
        size_t n = strlen(key) + 1;
        *pc = cn_calloc(1, sizeof(**pc) + n);
        memcpy((*pc)->key, key, n);
    }
    if (((*pc)->n += delta) <= 0) {
        struct counter *gone = *pc;
        *pc = gone->next;
        free(gone);
    }
}

static int counter_get(const char *key)
{
    struct counter *c = *counter_link(key);
    return c != NULL ? c->n : 0;
}

/* The operator token is one principal whatever it does; users and keys are one each. */
static void counter_keys(const who_t *w, char tkey[80], char pkey[160])
{
    snprintf(tkey, 80, "t\n%s", w->tenant_id);
    if (w->is_operator)
        snprintf(pkey, 160, "p\n\noperator");
    else
        snprintf(pkey, 160, "p\n%s\n%s", w->tenant_id, w->subject);
}

/* Counts a connection for its principal and tenant, or says which cap refuses it. */
cap_t cn__rt_principal_take(const who_t *w)
{
    char tkey[80], pkey[160];
    counter_keys(w, tkey, pkey);
    cap_t cap = CAP_NONE;
    pthread_mutex_lock(&cn__realtime.counters_lock);
    if (counter_get(pkey) >= cn__realtime.max_per_principal)
        cap = CAP_PRINCIPAL;
    else if (counter_get(tkey) >= cn__realtime.max_per_tenant)
        cap = CAP_TENANT;
    if (cap == CAP_NONE) {
        counter_add(pkey, 1);
        counter_add(tkey, 1);
    }
    pthread_mutex_unlock(&cn__realtime.counters_lock);
    return cap;
}

static void principal_give(const who_t *w)
{
    char tkey[80], pkey[160];
    counter_keys(w, tkey, pkey);
    pthread_mutex_lock(&cn__realtime.counters_lock);
    counter_add(pkey, -1);
    counter_add(tkey, -1);
    pthread_mutex_unlock(&cn__realtime.counters_lock);
}

/*
 * A WebSocket without credentials on its upgrade holds a process slot until its auth
 * message (at most AUTH_TIMEOUT_MS) and counts for no principal or tenant: without a cap
 * of its own, a few addresses could fill the process's slots that way. So such
 * connections count for their client's address until they authenticate.
 */
static int anon_take(cn_req_t *r, client_t *c)
{
    char ip[48];
    cn_req_peer(r, ip, sizeof(ip));
    snprintf(c->anon_key, sizeof(c->anon_key), "a\n%s", ip);
    int rc = -1;
    pthread_mutex_lock(&cn__realtime.counters_lock);
    if (counter_get(c->anon_key) < cn__realtime.max_anon_per_ip) {
        counter_add(c->anon_key, 1);
        c->has_anon = 1;
        rc = 0;
    }
    pthread_mutex_unlock(&cn__realtime.counters_lock);
    return rc;
}

/* The connection authenticated (or ends): it no longer counts as anonymous. */
void cn__rt_anon_give(client_t *c)
{
    if (!c->has_anon)
        return;
    pthread_mutex_lock(&cn__realtime.counters_lock);
    counter_add(c->anon_key, -1);
    pthread_mutex_unlock(&cn__realtime.counters_lock);
    c->has_anon = 0;
}

/* Gives back what the client holds; every way a connection ends goes through cn__rt_client_free. */
void cn__rt_caps_release(client_t *c)
{
    cn__rt_anon_give(c);
    if (c->has_principal)
        principal_give(c->principal);
    if (c->has_slot)
        atomic_fetch_sub(&cn__realtime.n_slots, 1);
    c->has_principal = c->has_slot = 0;
}

void cn__rt_count_refusal(cap_t cap)
{
    atomic_fetch_add_explicit(&cn__rt_stats.refusals[cap], 1, memory_order_relaxed);
}

/* Answers a request over a cap, before any upgrade or stream: 429 naming the cap. */
static int refuse(cn_req_t *r, cap_t cap)
{
    cn__rt_count_refusal(cap);
    return cn_fail_typed(r, CN_ERATELIMIT, cn__rt_caps[cap].type,
                         "too many realtime connections: the %s cap (%s) is reached",
                         cn__rt_caps[cap].label, cn__rt_caps[cap].setting);
}

/* For a request: a process slot, then its principal's and tenant's counts, or for a
 * connection without credentials its address's (c's flags). */
int cn__rt_admit(cn_req_t *r, client_t *c)
{
    if (c->principal == NULL && anon_take(r, c) != 0)
        return refuse(r, CAP_ANON);
    if (slot_take() != 0) {
        cn__rt_caps_release(c);
        return refuse(r, CAP_PROCESS);
    }
    c->has_slot = 1;
    if (c->principal == NULL)
        return 0;
    cap_t cap = cn__rt_principal_take(c->principal);
    if (cap != CAP_NONE) {
        cn__rt_caps_release(c);
        return refuse(r, cap);
    }
    c->has_principal = 1;
    return 0;
}

/* What each cap holds now: the process's slots, and the counters' sums by kind. */
void cn__rt_caps_held(long held[CAP_COUNT])
{
    memset(held, 0, CAP_COUNT * sizeof(*held));
    held[CAP_PROCESS] = atomic_load(&cn__realtime.n_slots);
    pthread_mutex_lock(&cn__realtime.counters_lock);
    for (size_t i = 0; i < CN_ARRAY_SIZE(cn__realtime.counters); i++)
        for (struct counter *c = cn__realtime.counters[i]; c != NULL; c = c->next)
            held[c->key[0] == 'p'   ? CAP_PRINCIPAL
                 : c->key[0] == 't' ? CAP_TENANT
                                    : CAP_ANON] += c->n;
    pthread_mutex_unlock(&cn__realtime.counters_lock);
}
