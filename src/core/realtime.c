/*
 * Realtime hub (see realtime.h and docs/realtime.md).
 *
 * Ordering: the event bus calls on_event right after each commit, under the process
 * write lock, so the messages a loop receives are in commit order and each channel's seq
 * only grows. A subscription is registered before its history is read (through a
 * connection of its own that sees every commit so far), so an event is either in that
 * history or arrives afterwards through the queue; whatever arrives twice is dropped by
 * its seq.
 *
 * Memory: a client is one allocation plus wslay's context; outgoing bytes go to the
 * client's buffer and leave in one write per loop turn.
 */
#include "core/realtime.h"
#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/store_open.h"
#include "core/system.h"

#include <h2o/http1.h>

#include <openssl/sha.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#define AUTH_TIMEOUT_MS 10000
#define TICK_MS 1000

enum { CLIENT_WS = 1, CLIENT_SSE = 2 };

typedef struct st_hub_t hub_t;

typedef struct {
    char *key;        /* tenant '\n' channel */
    const void *chan; /* this loop's chansubs_t of key: found by address when delivering */
    int64_t last_seq;
} sub_t;

/* Who a client is, without cn_principal_t's fixed scope buffer (connections are many). */
typedef struct {
    char tenant_id[64], subject[64], session_id[40], role[32];
    unsigned char is_key, is_operator, mfa;
    char scopes[]; /* an API key's permissions */
} who_t;

static who_t *who_new(const cn_principal_t *p)
{
    size_t n = strlen(p->scopes) + 1;
    who_t *w = cn_malloc(sizeof(*w) + n);
    memcpy(w->tenant_id, p->tenant_id, sizeof(w->tenant_id));
    memcpy(w->subject, p->subject, sizeof(w->subject));
    memcpy(w->session_id, p->session_id, sizeof(w->session_id));
    memcpy(w->role, p->role, sizeof(w->role));
    w->is_key = (unsigned char)p->is_key;
    w->is_operator = (unsigned char)p->is_operator;
    w->mfa = (unsigned char)p->mfa;
    memcpy(w->scopes, p->scopes, n);
    return w;
}

static void who_principal(const who_t *w, cn_principal_t *p)
{
    memset(p, 0, sizeof(*p));
    memcpy(p->tenant_id, w->tenant_id, sizeof(w->tenant_id));
    memcpy(p->subject, w->subject, sizeof(w->subject));
    memcpy(p->session_id, w->session_id, sizeof(w->session_id));
    memcpy(p->role, w->role, sizeof(w->role));
    snprintf(p->scopes, sizeof(p->scopes), "%s", w->scopes);
    p->is_key = w->is_key;
    p->is_operator = w->is_operator;
    p->mfa = w->mfa;
    p->authenticated = 1;
}

typedef struct st_client_t {
    hub_t *hub;
    int kind;
    h2o_socket_t *sock; /* WebSocket */
    wslay_event_context_ptr ws;
    h2o_req_t *req; /* event stream */
    h2o_generator_t gen;
    who_t *principal; /* NULL until authenticated */
    sub_t *subs;
    int n_subs;
    cn_buf_t out;     /* waiting to be written */
    cn_buf_t writing; /* being written */
    int busy;         /* a write is in flight */
    int wslay_busy;   /* wslay read frames or was given a control frame: ask it what to send */
    int closing;      /* close once what is queued has left */
    int dead;
    unsigned char has_slot;      /* holds one of realtime.max_connections */
    unsigned char has_principal; /* counted for its principal and tenant */
    unsigned char has_anon;      /* counted as not yet authenticated for its client's address */
    char anon_key[56];           /* "a\n<client address>" while has_anon */
    size_t accounted;            /* of its queued bytes, those counted in R.queued_total */
    uint64_t opened_ms, last_rx_ms, last_ping_ms, closing_ms;
    h2o_linklist_t link;  /* hub->clients */
    h2o_linklist_t dirty; /* hub->dirty: has bytes to flush */
} client_t;

/* subscribers of one channel on one loop */
typedef struct st_chansubs_t {
    struct st_chansubs_t *next;
    uint64_t hash;
    client_t **v;
    size_t n, cap;
    char key[];
} chansubs_t;

typedef struct {
    h2o_multithread_message_t super;
    struct st_delivery_t *d;
    hub_t *to;
} dmsg_t;

typedef struct st_delivery_t {
    atomic_int refs;
    int64_t seq;
    uint64_t hash;
    char *key;
    char *json; /* the WebSocket message */
    size_t json_len;
    char *sse; /* the event-stream record */
    size_t sse_len;
    dmsg_t msgs[];
} delivery_t;

struct st_hub_t {
    int bound;
    h2o_loop_t *loop;
    h2o_context_t *ctx;
    h2o_multithread_receiver_t receiver;
    cn_store_t *store;  /* the loop's connection: authentication */
    cn_store_t *reader; /* sees every commit so far: history */
    h2o_linklist_t clients, dirty;
    chansubs_t **buckets;
    size_t cap, count;
    atomic_int n_subs; /* read by publishers to skip idle loops */
    h2o_timeout_t tick_timeout;
    h2o_timeout_entry_t tick;
    struct pollfd *polls; /* event streams' sockets, asked once a tick whether the peer left */
    client_t **polled;
    size_t polls_cap;
};

static struct {
    hub_t *hubs;
    int n_hubs;
    pthread_mutex_t lock; /* hub binding vs. publishers */
    pthread_mutex_t presence_lock;
    struct presence {
        struct presence *next;
        int count;
        char key[];
    } * presence;
    const cn_config_t *cfg;
    int heartbeat_ms;
    size_t max_queue, max_message;
    int max_subs;
    /* connection caps: open connections of the process, and per tenant and per principal in
     * counters (one table, keys "t\n<tenant>", "p\n<tenant>\n<subject>" and, for connections
     * not authenticated yet, "a\n<client address>"), all loops */
    atomic_int n_slots;
    int max_connections, max_per_tenant, max_per_principal, max_anon_per_ip;
    /* unsent bytes of all connections, and the most they may hold together */
    atomic_size_t queued_total;
    size_t max_queued_total;
    pthread_mutex_t counters_lock;
    struct counter {
        struct counter *next;
        int n;
        char key[];
    } * counters[256];
} R = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .presence_lock = PTHREAD_MUTEX_INITIALIZER,
       .counters_lock = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local hub_t *this_hub;

/* The caps a connection may meet, most specific first (that one is named in a refusal). */
typedef enum { CAP_NONE, CAP_PRINCIPAL, CAP_TENANT, CAP_ANON, CAP_PROCESS, CAP_COUNT } cap_t;

static const struct {
    const char *label, *type, *setting;
} caps[CAP_COUNT] = {
    [CAP_PRINCIPAL] = {"principal", "realtime-connections-per-principal",
                       "realtime.max_per_principal"},
    [CAP_TENANT] = {"tenant", "realtime-connections-per-tenant", "realtime.max_per_tenant"},
    [CAP_ANON] = {"unauthenticated", "realtime-connections-unauthenticated-per-ip",
                  "realtime.max_unauthenticated_per_ip"},
    [CAP_PROCESS] = {"process", "realtime-connections-process", "realtime.max_connections"},
};

/* for /metrics: process-wide, updated with relaxed atomics */
static struct {
    atomic_long connections, subscriptions, deliveries, events, slow_closes, auth_failures;
    atomic_long refusals[CAP_COUNT];
} stats;

/* ---- the protocol's parser ---- */

static int copy_field(json_t *o, const char *name, char *out, size_t cap, int required, char *why,
                      size_t why_cap)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL) {
        out[0] = '\0';
        if (required)
            snprintf(why, why_cap, "%s is required", name);
        return required ? -1 : 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= cap) {
        snprintf(why, why_cap, "%s must be a string of at most %zu bytes", name, cap - 1);
        return -1;
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int cn_rt_parse(const char *text, size_t len, cn_rt_msg_t *m, char *why, size_t why_cap)
{
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    memset(m, 0, sizeof(*m));
    m->since = -1;
    int rc = -1;
    const char *op = json_string_value(json_object_get(o, "op"));
    if (o == NULL) {
        snprintf(why, why_cap, "not JSON: %s at line %d column %d", jerr.text, jerr.line,
                 jerr.column);
    } else if (!json_is_object(o)) {
        snprintf(why, why_cap, "a message is a JSON object");
    } else if (op == NULL) {
        snprintf(why, why_cap, "op is required and must be a string");
    } else if (strcmp(op, "ping") == 0) {
        m->op = RT_PING;
        rc = 0;
    } else if (strcmp(op, "auth") == 0) {
        m->op = RT_AUTH;
        rc = copy_field(o, "token", m->token, sizeof(m->token), 1, why, why_cap);
    } else if (strcmp(op, "subscribe") == 0 || strcmp(op, "unsubscribe") == 0) {
        m->op = op[0] == 's' ? RT_SUBSCRIBE : RT_UNSUBSCRIBE;
        rc = copy_field(o, "channel", m->channel, sizeof(m->channel), 1, why, why_cap);
        if (rc == 0 && !cn_events_channel_valid(m->channel)) {
            snprintf(why, why_cap, "channel must be 1-%d letters, digits or ._-:", CN_CHANNEL_MAX);
            rc = -1;
        }
        json_t *since = json_object_get(o, "since");
        if (rc == 0 && m->op == RT_SUBSCRIBE && since != NULL) {
            if (!json_is_integer(since) || json_integer_value(since) < 0) {
                snprintf(why, why_cap, "since must be an integer >= 0");
                rc = -1;
            } else {
                m->since = json_integer_value(since);
            }
        }
        if (rc == 0 && m->op == RT_SUBSCRIBE)
            rc = copy_field(o, "epoch", m->epoch, sizeof(m->epoch), 0, why, why_cap);
    } else {
        snprintf(why, why_cap, "unknown op; use auth, subscribe, unsubscribe or ping");
    }
    json_decref(o);
    return rc;
}

/* ---- presence ---- */

static void presence_add(const who_t *p, int delta)
{
    char key[160];
    snprintf(key, sizeof(key), "%s\n%s", p->tenant_id, p->subject);
    pthread_mutex_lock(&R.presence_lock);
    struct presence **pp = &R.presence;
    while (*pp != NULL && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    if (*pp == NULL && delta > 0) {
        size_t n = strlen(key) + 1;
        *pp = cn_calloc(1, sizeof(**pp) + n);
        memcpy((*pp)->key, key, n);
    }
    if (*pp != NULL && ((*pp)->count += delta) <= 0) {
        struct presence *gone = *pp;
        *pp = gone->next;
        free(gone);
    }
    pthread_mutex_unlock(&R.presence_lock);
}

int cn_realtime_presence(const char *tenant_id, const char *subject)
{
    char key[160];
    snprintf(key, sizeof(key), "%s\n%s", tenant_id, subject);
    int n = 0;
    pthread_mutex_lock(&R.presence_lock);
    for (struct presence *p = R.presence; p != NULL; p = p->next)
        if (strcmp(p->key, key) == 0)
            n = p->count;
    pthread_mutex_unlock(&R.presence_lock);
    return n;
}

/* ---- connection caps ---- */

/* Takes one of the process's connection slots; -1 when they are all taken. */
static int slot_take(void)
{
    if (atomic_fetch_add(&R.n_slots, 1) < R.max_connections)
        return 0;
    atomic_fetch_sub(&R.n_slots, 1);
    return -1;
}

static struct counter **counter_link(const char *key)
{
    struct counter **pc = &R.counters[cn_hash_str(key) & (CN_ARRAY_SIZE(R.counters) - 1)];
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
static cap_t principal_take(const who_t *w)
{
    char tkey[80], pkey[160];
    counter_keys(w, tkey, pkey);
    cap_t cap = CAP_NONE;
    pthread_mutex_lock(&R.counters_lock);
    if (counter_get(pkey) >= R.max_per_principal)
        cap = CAP_PRINCIPAL;
    else if (counter_get(tkey) >= R.max_per_tenant)
        cap = CAP_TENANT;
    if (cap == CAP_NONE) {
        counter_add(pkey, 1);
        counter_add(tkey, 1);
    }
    pthread_mutex_unlock(&R.counters_lock);
    return cap;
}

static void principal_give(const who_t *w)
{
    char tkey[80], pkey[160];
    counter_keys(w, tkey, pkey);
    pthread_mutex_lock(&R.counters_lock);
    counter_add(pkey, -1);
    counter_add(tkey, -1);
    pthread_mutex_unlock(&R.counters_lock);
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
    pthread_mutex_lock(&R.counters_lock);
    if (counter_get(c->anon_key) < R.max_anon_per_ip) {
        counter_add(c->anon_key, 1);
        c->has_anon = 1;
        rc = 0;
    }
    pthread_mutex_unlock(&R.counters_lock);
    return rc;
}

/* The connection authenticated (or ends): it no longer counts as anonymous. */
static void anon_give(client_t *c)
{
    if (!c->has_anon)
        return;
    pthread_mutex_lock(&R.counters_lock);
    counter_add(c->anon_key, -1);
    pthread_mutex_unlock(&R.counters_lock);
    c->has_anon = 0;
}

/* Gives back what the client holds; every way a connection ends goes through client_free. */
static void caps_release(client_t *c)
{
    anon_give(c);
    if (c->has_principal)
        principal_give(c->principal);
    if (c->has_slot)
        atomic_fetch_sub(&R.n_slots, 1);
    c->has_principal = c->has_slot = 0;
}

static void count_refusal(cap_t cap)
{
    atomic_fetch_add_explicit(&stats.refusals[cap], 1, memory_order_relaxed);
}

/* Answers a request over a cap, before any upgrade or stream: 429 naming the cap. */
static int refuse(cn_req_t *r, cap_t cap)
{
    count_refusal(cap);
    return cn_fail_typed(r, CN_ERATELIMIT, caps[cap].type,
                         "too many realtime connections: the %s cap (%s) is reached",
                         caps[cap].label, caps[cap].setting);
}

/* For a request: a process slot, then its principal's and tenant's counts, or for a
 * connection without credentials its address's (c's flags). */
static int admit(cn_req_t *r, client_t *c)
{
    if (c->principal == NULL && anon_take(r, c) != 0)
        return refuse(r, CAP_ANON);
    if (slot_take() != 0) {
        caps_release(c);
        return refuse(r, CAP_PROCESS);
    }
    c->has_slot = 1;
    if (c->principal == NULL)
        return 0;
    cap_t cap = principal_take(c->principal);
    if (cap != CAP_NONE) {
        caps_release(c);
        return refuse(r, cap);
    }
    c->has_principal = 1;
    return 0;
}

/* ---- a loop's channel table ---- */

static chansubs_t *chan_find(hub_t *hub, const char *key, uint64_t h)
{
    if (hub->cap == 0)
        return NULL;
    for (chansubs_t *c = hub->buckets[h & (hub->cap - 1)]; c != NULL; c = c->next)
        if (c->hash == h && strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

static chansubs_t *chan_get(hub_t *hub, const char *key)
{
    uint64_t h = cn_hash_str(key);
    chansubs_t *c = chan_find(hub, key, h);
    if (c != NULL)
        return c;
    if (hub->count + 1 > hub->cap / 2) {
        size_t cap = hub->cap ? hub->cap * 2 : 64;
        chansubs_t **b = cn_calloc(cap, sizeof(chansubs_t *));
        for (size_t i = 0; i < hub->cap; i++)
            for (chansubs_t *x = hub->buckets[i], *next; x != NULL; x = next) {
                next = x->next;
                x->next = b[x->hash & (cap - 1)];
                b[x->hash & (cap - 1)] = x;
            }
        free(hub->buckets);
        hub->buckets = b;
        hub->cap = cap;
    }
    size_t n = strlen(key) + 1;
    c = cn_calloc(1, sizeof(*c) + n);
    memcpy(c->key, key, n);
    c->hash = h;
    c->next = hub->buckets[h & (hub->cap - 1)];
    hub->buckets[h & (hub->cap - 1)] = c;
    hub->count++;
    return c;
}

static void chan_remove_client(hub_t *hub, const char *key, client_t *cl)
{
    uint64_t h = cn_hash_str(key);
    chansubs_t *c = chan_find(hub, key, h);
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i] == cl) {
            c->v[i] = c->v[--c->n];
            atomic_fetch_sub(&hub->n_subs, 1);
            break;
        }
    if (c->n > 0)
        return;
    for (chansubs_t **pc = &hub->buckets[h & (hub->cap - 1)]; *pc != NULL; pc = &(*pc)->next)
        if (*pc == c) {
            *pc = c->next;
            break;
        }
    free(c->v);
    free(c);
    hub->count--;
}

/* ---- output ---- */

static void client_free(client_t *c);

static void mark_dirty(client_t *c)
{
    if (!h2o_linklist_is_linked(&c->dirty))
        h2o_linklist_insert(&c->hub->dirty, &c->dirty);
}

static size_t queued_bytes(const client_t *c)
{
    size_t n = c->out.len + c->writing.len;
    return c->ws ? n + wslay_event_get_queued_msg_length(c->ws) : n;
}

static void ws_queue_close(client_t *c, uint16_t code, const char *reason)
{
    if (c->closing)
        return;
    if (code == 4401)
        atomic_fetch_add_explicit(&stats.auth_failures, 1, memory_order_relaxed);
    c->closing = 1;
    c->closing_ms = h2o_now(c->hub->loop);
    c->wslay_busy = 1;
    /* wslay sends control frames before queued messages: let those leave first */
    if (wslay_event_want_write(c->ws))
        wslay_event_send(c->ws);
    wslay_event_queue_close(c->ws, code, (const uint8_t *)reason, strlen(reason));
    mark_dirty(c);
}

/* RFC 6455 5.2: a final, unmasked text frame's header (a server never masks). */
static size_t ws_text_header(uint8_t h[10], size_t len)
{
    h[0] = 0x81; /* FIN + text */
    if (len < 126) {
        h[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* Brings R.queued_total up to date with what c holds now (its unsent and in-flight bytes;
 * wslay's own queue holds only control frames, a few bytes). */
static void account(client_t *c)
{
    size_t now = c->out.len + c->writing.len;
    if (now >= c->accounted)
        atomic_fetch_add_explicit(&R.queued_total, now - c->accounted, memory_order_relaxed);
    else
        atomic_fetch_sub_explicit(&R.queued_total, c->accounted - now, memory_order_relaxed);
    c->accounted = now;
}

/* Closes a client that cannot take len more bytes: its own queue (realtime.max_queue_bytes)
 * or all connections' together (realtime.max_queued_bytes_total) would pass their limit.
 * What it has not been handed to the socket yet is dropped at once (whole frames and
 * records only: nothing is cut in half); it resumes from the history. */
static int too_slow(client_t *c, size_t len)
{
    const char *which;
    if (queued_bytes(c) + len > R.max_queue)
        which = "its send queue is full";
    else if (atomic_load_explicit(&R.queued_total, memory_order_relaxed) + len > R.max_queued_total)
        which = "the send queues of all connections are full";
    else
        return 0;
    cn_log(CN_LOG_INFO, NULL,
           "realtime: closing a client that does not keep up (%zu bytes queued; %s)",
           queued_bytes(c), which);
    atomic_fetch_add_explicit(&stats.slow_closes, 1, memory_order_relaxed);
    c->out.len = 0;
    account(c);
    if (c->kind == CLIENT_WS) {
        ws_queue_close(c, 1008, "send queue full: reconnect and resume");
    } else {
        c->closing = 1;
        mark_dirty(c);
    }
    return 1;
}

/* Queues one message; a client that cannot take it is closed as too slow (1008). */
static void client_send(client_t *c, const char *json, size_t len, const char *sse, size_t sse_len)
{
    if (c->closing || c->dead || too_slow(c, len))
        return;
    if (c->kind == CLIENT_WS) {
        /* written straight into the client's buffer: queueing through wslay would cost a
         * malloc and two copies per delivery. wslay still parses what clients send and
         * writes the control frames (its sends all complete at once, so frames never
         * interleave; nothing follows a close, see c->closing). */
        uint8_t hdr[10];
        cn_buf_append(&c->out, hdr, ws_text_header(hdr, len));
        cn_buf_append(&c->out, json, len);
    } else if (sse != NULL) { /* callers that only speak to WebSockets pass none */
        cn_buf_append(&c->out, sse, sse_len);
    }
    account(c);
    mark_dirty(c);
}

/* Sends a protocol message; an event stream gets it as a record, named sse_event if given,
 * with the position sse_id ("<epoch>:<seq>") as its id if given. */
static void send_jw_id(client_t *c, const char *sse_event, const char *sse_id, cn_buf_t *b)
{
    cn_buf_t sse = {0};
    if (c->kind == CLIENT_SSE) {
        if (sse_id != NULL)
            cn_buf_appendf(&sse, "id: %s\n", sse_id);
        if (sse_event != NULL)
            cn_buf_appendf(&sse, "event: %s\n", sse_event);
        cn_buf_lit(&sse, "data: ");
        cn_buf_append(&sse, b->data, b->len);
        cn_buf_lit(&sse, "\n\n");
    }
    client_send(c, b->data, b->len, sse.data, sse.len);
    cn_buf_free(&sse);
}

static void send_jw(client_t *c, const char *sse_event, cn_buf_t *b)
{
    send_jw_id(c, sse_event, NULL, b);
}

static void send_error(client_t *c, const char *code, const char *message, const char *channel)
{
    cn_buf_t b = {0};
    cn_jw_t w;
    cn_jw_init(&w, &b);
    cn_jw_object(&w);
    cn_jw_key(&w, "op");
    cn_jw_str(&w, "error", 5);
    cn_jw_key(&w, "code");
    cn_jw_str(&w, code, strlen(code));
    cn_jw_key(&w, "message");
    cn_jw_str(&w, message, strlen(message));
    if (channel != NULL) {
        cn_jw_key(&w, "channel");
        cn_jw_str(&w, channel, strlen(channel));
    }
    cn_jw_end(&w);
    send_jw(c, NULL, &b);
    cn_buf_free(&b);
}

static void on_ws_written(h2o_socket_t *sock, const char *err);
static void flush(client_t *c);

static void start_write(client_t *c)
{
    if (c->busy || c->out.len == 0)
        return;
    cn_buf_t t = c->writing; /* swap: the written buffer is reused for the next bytes */
    c->writing = c->out;
    c->out = t;
    c->out.len = 0;
    c->busy = 1;
    h2o_iovec_t v = h2o_iovec_init(c->writing.data, c->writing.len);
    if (c->kind == CLIENT_WS)
        h2o_socket_write(c->sock, &v, 1, on_ws_written);
    else
        h2o_send(c->req, &v, 1, c->closing ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void written(client_t *c)
{
    c->busy = 0;
    c->writing.len = 0;
    account(c);
    flush(c);
}

static void on_ws_written(h2o_socket_t *sock, const char *err)
{
    client_t *c = sock->data;
    if (err != NULL) {
        c->dead = 1;
        client_free(c);
        return;
    }
    written(c);
}

static void flush(client_t *c)
{
    if (c->dead)
        return;
    if (c->kind == CLIENT_WS) {
        int over = 0;        /* both sides have closed */
        if (c->wslay_busy) { /* only then: asking wslay for every delivery costs 4 % of CPU */
            c->wslay_busy = 0;
            if (wslay_event_want_write(c->ws) && wslay_event_send(c->ws) != 0) {
                client_free(c);
                return;
            }
            over = !wslay_event_want_read(c->ws) && !wslay_event_want_write(c->ws);
        }
        start_write(c);
        /* the close frame has left (or the peer is gone): nothing more to say */
        if (!c->busy && (over || (c->closing && wslay_event_get_close_sent(c->ws))))
            client_free(c);
        return;
    }
    if (c->closing && !c->busy && c->out.len == 0) { /* SSE: end the stream */
        c->busy = 1;
        h2o_send(c->req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    start_write(c);
}

/* Unlinks and returns the first node of the non-empty list anchor: h2o_linklist_unlink's
 * effect, written through the anchor so that clang's analyzer sees the list shrink. */
static h2o_linklist_t *list_shift(h2o_linklist_t *anchor)
{
    h2o_linklist_t *node = anchor->next;
    anchor->next = node->next;
    node->next->prev = anchor;
    node->next = node->prev = NULL;
    return node;
}

static void flush_dirty(hub_t *hub)
{
    while (!h2o_linklist_is_empty(&hub->dirty))
        flush(H2O_STRUCT_FROM_MEMBER(client_t, dirty, list_shift(&hub->dirty)));
}

/* ---- clients ---- */

static void drop_subscription(client_t *c, int i)
{
    chan_remove_client(c->hub, c->subs[i].key, c);
    free(c->subs[i].key);
    c->subs[i] = c->subs[--c->n_subs];
}

static void client_free(client_t *c)
{
    while (c->n_subs > 0)
        drop_subscription(c, c->n_subs - 1);
    free(c->subs);
    caps_release(c);
    if (c->principal != NULL) {
        presence_add(c->principal, -1);
        free(c->principal);
    }
    if (h2o_linklist_is_linked(&c->dirty))
        h2o_linklist_unlink(&c->dirty);
    if (h2o_linklist_is_linked(&c->link)) {
        h2o_linklist_unlink(&c->link);
        atomic_fetch_sub_explicit(&stats.connections, 1, memory_order_relaxed);
    }
    cn_buf_free(&c->out);
    cn_buf_free(&c->writing);
    account(c);
    if (c->kind == CLIENT_WS) {
        if (c->sock != NULL)
            h2o_socket_close(c->sock);
        wslay_event_context_free(c->ws);
        free(c);
    } else {
        c->dead = 1; /* the request's pool owns c; its generator's stop or final write ends it */
    }
}

static sub_t *find_sub(client_t *c, const char *key, int *index)
{
    for (int i = 0; i < c->n_subs; i++)
        if (strcmp(c->subs[i].key, key) == 0) {
            if (index)
                *index = i;
            return &c->subs[i];
        }
    return NULL;
}

static void event_json(cn_buf_t *b, const cn_event_t *ev)
{
    cn_jw_t w;
    cn_jw_init(&w, b);
    cn_jw_object(&w);
    cn_jw_key(&w, "op");
    cn_jw_str(&w, "event", 5);
    cn_jw_key(&w, "channel");
    cn_jw_str(&w, ev->channel, strlen(ev->channel));
    cn_jw_key(&w, "seq");
    cn_jw_int(&w, ev->seq);
    cn_jw_key(&w, "epoch");
    cn_jw_str(&w, ev->epoch, strlen(ev->epoch));
    cn_jw_key(&w, "type");
    cn_jw_str(&w, ev->type, strlen(ev->type));
    cn_jw_key(&w, "at");
    cn_jw_int(&w, ev->at_ms);
    cn_jw_key(&w, "data");
    cn_jw_raw(&w, ev->data, ev->data_len);
    cn_jw_end(&w);
}

static void event_sse(cn_buf_t *b, const cn_event_t *ev, const char *json, size_t len)
{
    cn_buf_appendf(b, "id: %s:%lld\nevent: %s\ndata: ", ev->epoch, (long long)ev->seq, ev->type);
    cn_buf_append(b, json, len);
    cn_buf_lit(b, "\n\n");
}

static int send_replayed(const cn_event_t *ev, void *ud)
{
    client_t *c = ((void **)ud)[0];
    sub_t *s = ((void **)ud)[1];
    cn_buf_t j = {0}, sse = {0};
    event_json(&j, ev);
    if (c->kind == CLIENT_SSE)
        event_sse(&sse, ev, j.data, j.len);
    client_send(c, j.data, j.len, sse.data, sse.len);
    cn_buf_free(&j);
    cn_buf_free(&sse);
    s->last_seq = ev->seq;
    return c->closing ? 1 : 0;
}

/* Sends subscribed or resync_required. at is where the subscription stands once the client
 * has this record: an event stream gives it as the record's id, so that a client cut off
 * before the next event resumes from there (Last-Event-ID) instead of from "now". */
static void send_position(client_t *c, const char *op, const char *channel,
                          const cn_position_t *pos, const cn_position_t *at)
{
    cn_buf_t b = {0};
    cn_jw_t w;
    cn_jw_init(&w, &b);
    cn_jw_object(&w);
    cn_jw_key(&w, "op");
    cn_jw_str(&w, op, strlen(op));
    cn_jw_key(&w, "channel");
    cn_jw_str(&w, channel, strlen(channel));
    cn_jw_key(&w, "seq");
    cn_jw_int(&w, pos->seq);
    cn_jw_key(&w, "epoch");
    cn_jw_str(&w, pos->epoch, strlen(pos->epoch));
    cn_jw_end(&w);
    char id[CN_EPOCH_LEN + 24];
    snprintf(id, sizeof(id), "%s:%lld", at->epoch, (long long)at->seq);
    send_jw_id(c, op, id, &b);
    cn_buf_free(&b);
}

/* The permission a channel needs, from the modules' channel tables (NULL: unknown). */
static const char *channel_permission(const char *channel)
{
    size_t fam = strcspn(channel, ":");
    for (const cn_app_t *const *m = cn_system_modules(); m && *m; m++)
        for (const cn_channel_t *ch = (*m)->channels; ch && ch->prefix; ch++)
            if (strlen(ch->prefix) == fam && strncmp(ch->prefix, channel, fam) == 0)
                return ch->permission;
    return NULL;
}

/* Checks the channel for the client; sends the error and returns -1 when refused. */
static int may_subscribe(client_t *c, const char *channel)
{
    const char *perm = channel_permission(channel);
    if (perm == NULL) {
        send_error(c, "unknown_channel", "no module publishes on this channel", channel);
        return -1;
    }
    cn_err_t err = {0};
    cn_principal_t p;
    who_principal(c->principal, &p);
    if (cn_principal_allowed(c->hub->store, &p, perm, &err) != 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "this channel needs the permission %s", perm);
        send_error(c, "forbidden", msg, channel);
        return -1;
    }
    return 0;
}

/* A subscription's key on this loop: channels are always the caller's tenant's. */
static void channel_key(const client_t *c, const char *channel, char key[256])
{
    snprintf(key, 256, "%s\n%s", c->principal->tenant_id, channel);
}

static void subscribe(client_t *c, const char *channel, int64_t since, const char *epoch)
{
    char key[256];
    channel_key(c, channel, key);
    int idx;
    if (find_sub(c, key, &idx) != NULL) /* a resubscription starts over */
        drop_subscription(c, idx);
    if (c->n_subs >= R.max_subs) {
        send_error(c, "too_many_subscriptions", "unsubscribe from a channel first", channel);
        return;
    }
    /* registered before the history is read: what commits from now on reaches this loop */
    c->subs = cn_realloc(c->subs, (size_t)(c->n_subs + 1) * sizeof(sub_t));
    int me = c->n_subs++;
    c->subs[me].key = cn_strdup(key);
    c->subs[me].last_seq = INT64_MAX; /* nothing live can arrive before we return */
    chansubs_t *cs = chan_get(c->hub, key);
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? cs->cap * 2 : 4;
        cs->v = cn_realloc(cs->v, cs->cap * sizeof(client_t *));
    }
    cs->v[cs->n++] = c;
    c->subs[me].chan = cs;
    atomic_fetch_add(&c->hub->n_subs, 1);

    cn_position_t pos;
    cn_err_t err = {0};
    const char *tenant = c->principal->tenant_id;
    if (cn_events_position(c->hub->reader, tenant, channel, &pos.seq, pos.epoch, &err) != 0) {
        cn_log(CN_LOG_ERROR, NULL, "realtime: cannot read channel position: %s", err.msg);
        send_error(c, "unavailable", "the channel cannot be read now; retry", channel);
        drop_subscription(c, me);
        return;
    }
    /* the client's own position when it gave one (a resumed stream cut before its missed
     * events must ask for them again), else the channel's */
    cn_position_t at = pos;
    if (since >= 0) {
        at.seq = since;
        if (epoch != NULL)
            snprintf(at.epoch, sizeof(at.epoch), "%s", epoch);
    }
    send_position(c, "subscribed", channel, &pos, &at);
    c->subs[me].last_seq = since >= 0 ? since : pos.seq;
    if (since < 0)
        return;
    void *ud[2] = {c, &c->subs[me]};
    int rc = cn_events_replay(c->hub->reader, tenant, channel, since, epoch, &pos, send_replayed,
                              ud, &err);
    if (rc == CN_RESYNC) { /* the gap cannot be filled: the client reloads, we go on live */
        if (c->subs[me].last_seq < pos.seq)
            c->subs[me].last_seq = pos.seq;
        send_position(c, "resync_required", channel, &pos, &pos);
    } else if (rc < 0) {
        cn_log(CN_LOG_ERROR, NULL, "realtime: cannot read channel history: %s", err.msg);
        send_error(c, "unavailable", "the history cannot be read now; subscribe again", channel);
        drop_subscription(c, me);
    }
}

static void unsubscribe(client_t *c, const char *channel)
{
    char key[256];
    channel_key(c, channel, key);
    int idx;
    if (find_sub(c, key, &idx) != NULL)
        drop_subscription(c, idx);
    cn_buf_t b = {0};
    cn_buf_appendf(&b, "{\"op\":\"unsubscribed\",\"channel\":\"%s\"}", channel);
    send_jw(c, NULL, &b);
    cn_buf_free(&b);
}

static void send_ready(client_t *c)
{
    cn_buf_t b = {0};
    cn_jw_t w;
    cn_jw_init(&w, &b);
    cn_jw_object(&w);
    cn_jw_key(&w, "op");
    cn_jw_str(&w, "ready", 5);
    cn_jw_key(&w, "tenant_id");
    cn_jw_str(&w, c->principal->tenant_id, strlen(c->principal->tenant_id));
    cn_jw_key(&w, "subject");
    cn_jw_str(&w, c->principal->subject, strlen(c->principal->subject));
    cn_jw_key(&w, "heartbeat_s");
    cn_jw_int(&w, R.heartbeat_ms / 1000);
    cn_jw_end(&w);
    send_jw(c, NULL, &b);
    cn_buf_free(&b);
}

/* 0: ready; -1: not allowed; 1: over a cap, refused here (only known after the upgrade). */
static int authenticated(client_t *c, const cn_principal_t *p)
{
    cn_err_t err = {0};
    if (cn_principal_allowed(c->hub->store, p, "realtime.read", &err) != 0)
        return -1;
    anon_give(c); /* from here on it counts for its principal, or is refused */
    who_t *w = who_new(p);
    cap_t cap = principal_take(w);
    if (cap != CAP_NONE) {
        free(w);
        count_refusal(cap);
        char msg[160];
        snprintf(msg, sizeof(msg), "too many realtime connections: the %s cap (%s) is reached",
                 caps[cap].label, caps[cap].setting);
        send_error(c, "too_many_connections", msg, NULL);
        snprintf(msg, sizeof(msg), "too many connections: %s", caps[cap].setting);
        ws_queue_close(c, 4429, msg);
        return 1;
    }
    c->principal = w;
    c->has_principal = 1;
    presence_add(c->principal, 1);
    send_ready(c);
    return 0;
}

static void on_text(client_t *c, const char *text, size_t len)
{
    cn_rt_msg_t m;
    char why[200];
    if (cn_rt_parse(text, len, &m, why, sizeof(why)) != 0) {
        send_error(c, "invalid_message", why, NULL);
        return;
    }
    if (m.op == RT_PING) {
        cn_buf_t b = {0};
        cn_buf_lit(&b, "{\"op\":\"pong\"}");
        send_jw(c, NULL, &b);
        cn_buf_free(&b);
        return;
    }
    if (m.op == RT_AUTH) {
        if (c->principal != NULL) {
            send_error(c, "invalid_message", "already authenticated", NULL);
            return;
        }
        cn_principal_t p;
        memset(&p, 0, sizeof(p));
        cn_err_t err = {0};
        int rc = cn_token_authenticate(c->hub->store, m.token, strlen(m.token), &p, &err);
        if (rc == 0 && (rc = authenticated(c, &p)) > 0)
            return;
        if (rc != 0) {
            send_error(c, "unauthorized", err.msg[0] ? err.msg : "the token is not valid", NULL);
            ws_queue_close(c, 4401, "unauthorized");
        }
        return;
    }
    if (c->principal == NULL) {
        send_error(c, "unauthorized", "authenticate first: {\"op\":\"auth\",\"token\":...}", NULL);
        ws_queue_close(c, 4401, "unauthorized");
        return;
    }
    if (m.op == RT_UNSUBSCRIBE) {
        unsubscribe(c, m.channel);
        return;
    }
    if (may_subscribe(c, m.channel) == 0)
        subscribe(c, m.channel, m.since, m.epoch[0] ? m.epoch : NULL);
}

/* ---- WebSocket I/O through wslay ---- */

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    client_t *c = ud;
    h2o_buffer_t *in = c->sock->input;
    if (in->size == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (len > in->size)
        len = in->size;
    memcpy(buf, in->bytes, len);
    h2o_buffer_consume(&c->sock->input, len);
    return (ssize_t)len;
}

static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    client_t *c = ud;
    cn_buf_append(&c->out, data, len);
    return (ssize_t)len;
}

static void ws_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *ud)
{
    client_t *c = ud;
    if (arg->opcode == WSLAY_TEXT_FRAME)
        on_text(c, (const char *)arg->msg, arg->msg_length);
    else if (arg->opcode == WSLAY_BINARY_FRAME)
        send_error(c, "invalid_message", "messages are JSON text frames", NULL);
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv, .send_callback = ws_send, .on_msg_recv_callback = ws_on_msg};

static void on_ws_read(h2o_socket_t *sock, const char *err)
{
    client_t *c = sock->data;
    if (err != NULL) {
        client_free(c);
        return;
    }
    c->last_rx_ms = h2o_now(c->hub->loop);
    while (sock->input->size > 0 && wslay_event_want_read(c->ws))
        if (wslay_event_recv(c->ws) != 0) {
            client_free(c);
            return;
        }
    if (sock->input->size > 0) /* the peer closed, yet keeps sending: drop it */
        h2o_buffer_consume(&sock->input, sock->input->size);
    c->wslay_busy = 1; /* pongs, close replies */
    mark_dirty(c);
    flush_dirty(c->hub);
}

static void on_upgraded(void *ud, h2o_socket_t *sock, size_t reqsize)
{
    client_t *c = ud;
    if (sock == NULL) { /* the 101 could not be sent */
        c->sock = NULL;
        client_free(c);
        return;
    }
    c->sock = sock;
    sock->data = c;
    h2o_buffer_consume(&sock->input, reqsize);
    h2o_linklist_insert(&c->hub->clients, &c->link);
    atomic_fetch_add_explicit(&stats.connections, 1, memory_order_relaxed);
    if (c->principal != NULL)
        send_ready(c);
    h2o_socket_read_start(sock, on_ws_read);
    if (sock->input->size > 0) /* a first message sent right behind the upgrade */
        on_ws_read(sock, NULL);
    else
        flush_dirty(c->hub);
}

/*
 * A browser cannot set headers on a WebSocket, so the console's upgrade carries its
 * session cookie instead. Only from this server's own pages: a browser always sends
 * Origin on an upgrade, and one naming another site is not authenticated by cookie
 * (SameSite=Strict keeps the cookie from cross-site upgrades as well).
 */
static int same_origin(cn_req_t *r)
{
    h2o_iovec_t origin = cn_req_header(r, "origin");
    if (origin.len == 0)
        return 1; /* not a browser */
    const h2o_url_scheme_t *scheme = r->h->scheme;
    size_t n = scheme->name.len;
    return origin.len == n + 3 + r->h->authority.len &&
           memcmp(origin.base, scheme->name.base, n) == 0 &&
           memcmp(origin.base + n, "://", 3) == 0 &&
           memcmp(origin.base + n + 3, r->h->authority.base, r->h->authority.len) == 0;
}

static int is_websocket_handshake(cn_req_t *r, h2o_iovec_t *key)
{
    h2o_req_t *req = r->h;
    *key = cn_req_header(r, "sec-websocket-key");
    return req->version < 0x200 && req->upgrade.base != NULL &&
           h2o_lcstris(req->upgrade.base, req->upgrade.len, H2O_STRLIT("websocket")) &&
           key->len == 24;
}

static int get_realtime(cn_req_t *r)
{
    h2o_iovec_t key;
    hub_t *hub = this_hub;
    if (hub == NULL || !hub->bound)
        return cn_fail(r, CN_EBUSY, "the realtime hub is not running");
    if (!is_websocket_handshake(r, &key)) {
        cn_reply_header(r, "upgrade", H2O_STRLIT("websocket"));
        return cn_reply_problem(r, CN_EUPGRADE,
                                "this endpoint speaks WebSocket (HTTP/1.1 Upgrade: websocket with"
                                " Sec-WebSocket-Key); see docs/realtime.md, or use"
                                " /api/v1/realtime/sse");
    }
    cn_principal_t p;
    int with_header = cn_req_header(r, "authorization").len > 0;
    int with_cookie = !with_header && cn_req_header(r, "cookie").len > 0 && same_origin(r);
    if (with_header) {
        int rc = cn_req_authenticate(r);
        if (rc != 0) /* the hook's message and problem type (token-expired, ...) stay */
            return rc == CN_EFORBIDDEN ? rc : CN_EUNAUTH;
        if (cn_req_allowed(r, "realtime.read") != 0)
            return cn_fail(r, CN_EFORBIDDEN, "this needs the permission realtime.read");
        p = r->principal;
    } else if (with_cookie) { /* failing, it is a connection that must send op auth */
        with_header = cn_req_authenticate(r) == 0 && cn_req_allowed(r, "realtime.read") == 0;
        p = r->principal;
        r->err.msg[0] = '\0';
    }
    client_t *c = cn_calloc(1, sizeof(*c));
    if (with_header)
        c->principal = who_new(&p);
    int rc = admit(r, c); /* refused before the upgrade when the caps are known */
    if (rc != 0) {
        free(c->principal);
        free(c);
        return rc;
    }
    c->hub = hub;
    c->kind = CLIENT_WS;
    c->opened_ms = c->last_rx_ms = c->last_ping_ms = h2o_now(hub->loop);
    wslay_event_context_server_init(&c->ws, &ws_callbacks, c);
    wslay_event_config_set_max_recv_msg_length(c->ws, R.max_message);
    if (with_header)
        presence_add(c->principal, 1);
    /* Sec-WebSocket-Accept: base64(SHA-1(key + RFC 6455 GUID)) */
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    uint8_t src[24 + sizeof(guid) - 1], sha[SHA_DIGEST_LENGTH];
    memcpy(src, key.base, 24);
    memcpy(src + 24, guid, sizeof(guid) - 1);
    SHA1(src, sizeof(src), sha);
    char accept[32];
    size_t n = h2o_base64_encode(accept, sha, sizeof(sha), 0);
    h2o_req_t *req = r->h;
    cn_req_takeover(r, 101);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_UPGRADE, NULL, H2O_STRLIT("websocket"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("sec-websocket-accept"), 0,
                          NULL, accept, n);
    h2o_http1_upgrade(req, NULL, 0, on_upgraded, c);
    return 0;
}

/* ---- Server-Sent Events ---- */

static void sse_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, gen, gen);
    if (c->dead)
        return;
    if (c->closing && c->out.len == 0 && c->busy) { /* the final write went out */
        client_free(c);
        return;
    }
    written(c);
}

static void sse_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, gen, gen);
    if (!c->dead)
        client_free(c);
}

/* Last-Event-ID: "<epoch>:<seq>", the epoch lowercase hex or empty (a channel that had no
 * event yet). The epoch is written back as the subscribed record's id: nothing else may
 * pass. */
static int64_t parse_last_event_id(cn_req_t *r, char epoch[CN_EPOCH_LEN + 1])
{
    h2o_iovec_t v = cn_req_header(r, "last-event-id");
    epoch[0] = '\0';
    const char *colon = v.len ? memchr(v.base, ':', v.len) : NULL;
    if (colon == NULL || (size_t)(colon - v.base) > CN_EPOCH_LEN)
        return -1;
    for (const char *p = v.base; p < colon; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return -1;
    int64_t seq = 0;
    for (const char *p = colon + 1; p < v.base + v.len; p++) {
        if (*p < '0' || *p > '9' || seq > INT64_MAX / 10 - 10)
            return -1;
        seq = seq * 10 + (*p - '0');
    }
    if (colon + 1 == v.base + v.len)
        return -1;
    memcpy(epoch, v.base, (size_t)(colon - v.base));
    epoch[colon - v.base] = '\0';
    return seq;
}

static void sse_dispose(void *p)
{
    client_t *c = *(client_t **)p;
    if (!c->dead)
        client_free(c);
    cn_buf_free(&c->out);
    cn_buf_free(&c->writing);
    account(c);
}

static int get_sse(cn_req_t *r)
{
    hub_t *hub = this_hub;
    if (hub == NULL || !hub->bound)
        return cn_fail(r, CN_EBUSY, "the realtime hub is not running");
    json_t *ch = json_object_get(r->query, "channel");
    const char *channel = json_string_value(ch);
    if (!cn_events_channel_valid(channel))
        return cn_fail_field(r, "channel", "must be 1-100 letters, digits or ._-:");
    const char *perm = channel_permission(channel);
    if (perm == NULL)
        return cn_fail(r, CN_ENOTFOUND, "no module publishes on the channel %s", channel);
    if (cn_req_allowed(r, perm) != 0)
        return cn_fail(r, CN_EFORBIDDEN, "this channel needs the permission %s", perm);
    static const char *const headers[] = {"cache-control", "no-store", NULL};
    if (r->method == CN_HEAD) /* the headers alone */
        return cn_reply_stream(r, "text/event-stream", headers, NULL);
    char epoch[CN_EPOCH_LEN + 1];
    int64_t since = parse_last_event_id(r, epoch);
    h2o_req_t *req = r->h;
    client_t *c = h2o_mem_alloc_pool(&req->pool, sizeof(*c));
    memset(c, 0, sizeof(*c));
    c->principal = who_new(&r->principal);
    int rc = admit(r, c);
    if (rc != 0) {
        free(c->principal);
        return rc;
    }
    client_t **owner = h2o_mem_alloc_shared(&req->pool, sizeof(client_t *), sse_dispose);
    *owner = c;
    c->hub = hub;
    c->kind = CLIENT_SSE;
    c->req = req;
    c->opened_ms = c->last_rx_ms = c->last_ping_ms = h2o_now(hub->loop);
    presence_add(c->principal, 1);
    c->gen.proceed = sse_proceed;
    c->gen.stop = sse_stop;
    cn_reply_stream(r, "text/event-stream", headers, &c->gen);
    h2o_linklist_insert(&hub->clients, &c->link);
    atomic_fetch_add_explicit(&stats.connections, 1, memory_order_relaxed);
    cn_buf_lit(&c->out, ": cairn event stream\n\n");
    subscribe(c, channel, since, epoch[0] ? epoch : NULL);
    mark_dirty(c);
    flush_dirty(hub);
    return 0;
}

/* ---- presence route ---- */

static int get_presence(cn_req_t *r)
{
    cn_jw_t w;
    cn_jw_init(&w, cn_reply_buffer(r));
    cn_jw_object(&w);
    cn_jw_key(&w, "items");
    cn_jw_array(&w);
    const char *tenant = cn_req_tenant(r);
    size_t tl = strlen(tenant);
    pthread_mutex_lock(&R.presence_lock);
    for (struct presence *p = R.presence; p != NULL; p = p->next) {
        if (strncmp(p->key, tenant, tl) != 0 || p->key[tl] != '\n')
            continue;
        cn_jw_object(&w);
        cn_jw_key(&w, "subject");
        cn_jw_str(&w, p->key + tl + 1, strlen(p->key + tl + 1));
        cn_jw_key(&w, "connections");
        cn_jw_int(&w, p->count);
        cn_jw_end(&w);
    }
    pthread_mutex_unlock(&R.presence_lock);
    cn_jw_end(&w);
    cn_jw_end(&w);
    return cn_reply_json_buf(r, 200);
}

/* ---- fan-out ---- */

/* Committing thread, under the write lock (see events.h): one message per loop.
 *
 * Loops change their n_subs without R.lock, so each loop's count is read exactly once and
 * that one reading decides both the message and the reference it holds: reading it again
 * could post more messages than the delivery has slots and references (a loop that
 * subscribed meanwhile), or fewer (one whose last subscriber left), and a loop would free
 * the delivery while others still read it. A loop skipped here because it had no subscriber
 * yet reads this event from the history, which already holds it (see the top of the file). */
static void on_event(const cn_event_t *ev, void *ud)
{
    (void)ud;
    atomic_fetch_add_explicit(&stats.events, 1, memory_order_relaxed);
    pthread_mutex_lock(&R.lock);
    int any = 0;
    for (int i = 0; i < R.n_hubs && !any; i++)
        any = R.hubs[i].bound && atomic_load(&R.hubs[i].n_subs) > 0;
    if (!any) { /* the common idle case: nothing formatted, nothing allocated */
        pthread_mutex_unlock(&R.lock);
        return;
    }
    delivery_t *d = cn_calloc(1, sizeof(*d) + (size_t)R.n_hubs * sizeof(dmsg_t));
    int targets = 0;
    for (int i = 0; i < R.n_hubs; i++) {
        hub_t *hub = &R.hubs[i];
        if (hub->bound && atomic_load(&hub->n_subs) > 0) {
            d->msgs[targets].d = d;
            d->msgs[targets++].to = hub;
        }
    }
    if (targets == 0) { /* the last subscribers left since the first look */
        pthread_mutex_unlock(&R.lock);
        free(d);
        return;
    }
    cn_buf_t key = {0}, json = {0}, sse = {0};
    cn_buf_appendf(&key, "%s\n%s", ev->tenant_id, ev->channel);
    event_json(&json, ev);
    event_sse(&sse, ev, json.data, json.len);
    d->key = key.data;
    d->hash = cn_hash_str(key.data);
    d->json = json.data;
    d->json_len = json.len;
    d->sse = sse.data;
    d->sse_len = sse.len;
    d->seq = ev->seq;
    atomic_init(&d->refs, targets);
    for (int k = 0; k < targets; k++)
        h2o_multithread_send_message(&d->msgs[k].to->receiver, &d->msgs[k].super);
    pthread_mutex_unlock(&R.lock);
}

static void release(delivery_t *d)
{
    if (atomic_fetch_sub(&d->refs, 1) == 1) {
        free(d->key);
        free(d->json);
        free(d->sse);
        free(d);
    }
}

static void deliver(hub_t *hub, const delivery_t *d)
{
    chansubs_t *cs = chan_find(hub, d->key, d->hash);
    if (cs == NULL)
        return;
    for (size_t i = 0; i < cs->n; i++) {
        client_t *c = cs->v[i];
        sub_t *s = NULL;
        for (int j = 0; j < c->n_subs && s == NULL; j++)
            s = c->subs[j].chan == cs ? &c->subs[j] : NULL;
        if (s == NULL || d->seq <= s->last_seq)
            continue; /* already sent from the history */
        s->last_seq = d->seq;
        client_send(c, d->json, d->json_len, d->sse, d->sse_len);
        atomic_fetch_add_explicit(&stats.deliveries, 1, memory_order_relaxed);
    }
}

static void on_deliveries(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    hub_t *hub = H2O_STRUCT_FROM_MEMBER(hub_t, receiver, receiver);
    for (h2o_linklist_t *node = messages->next, *next; node != messages; node = next) {
        next = node->next; /* read before the unlink: the analyzer follows h2o's list so */
        dmsg_t *m = H2O_STRUCT_FROM_MEMBER(dmsg_t, super.link, node);
        h2o_linklist_unlink(&m->super.link);
        if (hub->bound)
            deliver(hub, m->d);
        release(m->d);
    }
    flush_dirty(hub);
}

/* ---- heartbeat and time limits ---- */

static void ws_ping(client_t *c)
{
    struct wslay_event_msg m = {WSLAY_PING, NULL, 0};
    wslay_event_queue_msg(c->ws, &m);
    c->wslay_busy = 1;
    mark_dirty(c);
}

/* a session, or an API key (subject "key:<id>"), revoked since the connection opened */
static int credential_revoked(const who_t *p)
{
    if (p->session_id[0])
        return cn_session_revoked(p->session_id);
    return strncmp(p->subject, "key:", 4) == 0 && cn_session_revoked(p->subject + 4);
}

/* The stream's connection socket (NULL if the protocol layer gives none). */
static h2o_socket_t *sse_socket(client_t *c)
{
    h2o_conn_t *conn = c->req->conn;
    return conn->callbacks->get_socket != NULL ? conn->callbacks->get_socket(conn) : NULL;
}

/*
 * h2o reads nothing from an HTTP/1 connection while its streamed answer runs, so a client
 * that has gone is otherwise seen only when a write fails (a heartbeat or two later, 30-60
 * s), holding its cap slots that long: a tab that lost its network could not reconnect.
 * Once a tick, one poll() asks the kernel about every stream of the loop: POLLRDHUP is set
 * as soon as the peer's FIN has arrived, even behind unread bytes (a pipelined request, a
 * TLS close_notify); POLLHUP or POLLERR after a reset. Such a stream gives its slots back
 * at once and ends.
 */
static void sse_reap_gone(hub_t *hub)
{
    size_t n = 0;
    for (h2o_linklist_t *l = hub->clients.next; l != &hub->clients; l = l->next) {
        client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, link, l);
        h2o_socket_t *sock = c->kind == CLIENT_SSE && !c->closing ? sse_socket(c) : NULL;
        int fd = sock != NULL ? h2o_socket_get_fd(sock) : -1;
        if (fd < 0)
            continue;
        if (n == hub->polls_cap) {
            hub->polls_cap = hub->polls_cap ? hub->polls_cap * 2 : 16;
            hub->polls = cn_realloc(hub->polls, hub->polls_cap * sizeof(*hub->polls));
            hub->polled = cn_realloc(hub->polled, hub->polls_cap * sizeof(client_t *));
        }
        hub->polls[n] = (struct pollfd){.fd = fd, .events = POLLRDHUP};
        hub->polled[n++] = c;
    }
    if (n == 0 || poll(hub->polls, n, 0) <= 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!(hub->polls[i].revents & (POLLRDHUP | POLLHUP | POLLERR)))
            continue;
        client_t *c = hub->polled[i];
        caps_release(c); /* now, not when the final write fails */
        c->closing = 1;
        mark_dirty(c);
    }
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    hub_t *hub = H2O_STRUCT_FROM_MEMBER(hub_t, tick, entry);
    uint64_t now = h2o_now(hub->loop);
    sse_reap_gone(hub);
    for (h2o_linklist_t *l = hub->clients.next, *next; l != &hub->clients; l = next) {
        next = l->next;
        client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, link, l);
        if (!c->busy && c->out.len == 0 && c->writing.cap + c->out.cap > 0) {
            cn_buf_free(&c->writing); /* idle: no buffer kept (there may be 10 000) */
            cn_buf_free(&c->out);
        }
        if (c->kind == CLIENT_WS && c->closing &&
            now - c->closing_ms > 2 * (uint64_t)R.heartbeat_ms) {
            client_free(c); /* a peer that reads nothing never gets its close frame */
            continue;
        }
        if (c->principal != NULL && credential_revoked(c->principal)) {
            /* signed out (logout, password change, reset) or its API key revoked: the
             * connection ends with it */
            if (c->kind == CLIENT_WS) {
                ws_queue_close(c, 4401, "the session has been signed out");
            } else if (!c->closing) {
                c->closing = 1;
                mark_dirty(c);
            }
        } else if (c->kind == CLIENT_WS && c->principal == NULL &&
                   now - c->opened_ms > AUTH_TIMEOUT_MS) {
            ws_queue_close(c, 4401, "authentication timed out");
        } else if (c->kind == CLIENT_WS && now - c->last_rx_ms > 2 * (uint64_t)R.heartbeat_ms) {
            client_free(c); /* silent for two intervals: the peer is gone */
            continue;
        } else if (now - c->last_ping_ms >= (uint64_t)R.heartbeat_ms) {
            c->last_ping_ms = now;
            if (c->kind == CLIENT_WS) {
                ws_ping(c);
            } else {
                cn_buf_lit(&c->out, ": ping\n\n");
                mark_dirty(c);
            }
        }
    }
    flush_dirty(hub);
    h2o_timeout_link(hub->loop, &hub->tick_timeout, &hub->tick);
}

/* ---- loops ---- */

static void collect(cn_buf_t *out, void *data);

void cn_realtime_init(int n_loops)
{
    R.hubs = cn_calloc((size_t)n_loops, sizeof(hub_t));
    R.n_hubs = n_loops;
    cn_metrics_add_collector(collect, NULL); /* after cn_metrics_init, which resets them */
}

void cn_realtime_bind_loop(int index, h2o_context_t *ctx, cn_store_t *store)
{
    hub_t *hub = &R.hubs[index];
    hub->ctx = ctx;
    hub->loop = ctx->loop;
    hub->store = store;
    h2o_linklist_init_anchor(&hub->clients);
    h2o_linklist_init_anchor(&hub->dirty);
    cn_err_t err = {0};
    if (cn_open_store(R.cfg, 1, &hub->reader, &err) != 0) {
        cn_log(CN_LOG_ERROR, NULL, "realtime: no history connection, hub off: %s", err.msg);
        return;
    }
    h2o_multithread_register_receiver(ctx->queue, &hub->receiver, on_deliveries);
    h2o_timeout_init(hub->loop, &hub->tick_timeout, TICK_MS);
    hub->tick.cb = on_tick;
    h2o_timeout_link(hub->loop, &hub->tick_timeout, &hub->tick);
    this_hub = hub;
    pthread_mutex_lock(&R.lock);
    hub->bound = 1;
    pthread_mutex_unlock(&R.lock);
}

void cn_realtime_loop_shutdown(void)
{
    hub_t *hub = this_hub;
    if (hub == NULL || !hub->bound)
        return;
    for (h2o_linklist_t *l = hub->clients.next; l != &hub->clients; l = l->next) {
        client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, link, l);
        if (c->kind == CLIENT_WS) {
            ws_queue_close(c, 1001, "server shutting down");
        } else {
            c->closing = 1;
            mark_dirty(c);
        }
    }
    flush_dirty(hub);
}

void cn_realtime_loop_stop(void)
{
    hub_t *hub = this_hub;
    if (hub == NULL)
        return;
    pthread_mutex_lock(&R.lock);
    hub->bound = 0; /* no more deliveries are posted to this loop */
    pthread_mutex_unlock(&R.lock);
    /* client_free unlinks each (and touches no other client); an event stream's client_t
     * stays with its request's pool */
    for (h2o_linklist_t *node = hub->clients.next, *next; node != &hub->clients; node = next) {
        next = node->next;
        client_free(H2O_STRUCT_FROM_MEMBER(client_t, link, node));
    }
}

void cn_realtime_loop_free(void)
{
    hub_t *hub = this_hub;
    if (hub == NULL)
        return;
    h2o_multithread_unregister_receiver(hub->receiver.queue, &hub->receiver);
    if (h2o_timeout_is_linked(&hub->tick))
        h2o_timeout_unlink(&hub->tick);
    h2o_timeout_dispose(hub->loop, &hub->tick_timeout);
    for (size_t i = 0; i < hub->cap; i++)
        for (chansubs_t *c = hub->buckets[i], *next; c != NULL; c = next) {
            next = c->next;
            free(c->v);
            free(c);
        }
    free(hub->buckets);
    free(hub->polls);
    free(hub->polled);
    cn_store_close(hub->reader);
    this_hub = NULL;
}

void cn_realtime_free(void)
{
    /* every connection ended through client_free: anything still counted is a missed path */
    int left = atomic_load(&R.n_slots);
    for (size_t i = 0; i < CN_ARRAY_SIZE(R.counters); i++)
        for (struct counter *c = R.counters[i], *next; c != NULL; c = next, left++) {
            next = c->next;
            free(c);
        }
    memset(R.counters, 0, sizeof(R.counters));
    if (left != 0)
        cn_log(CN_LOG_ERROR, NULL, "realtime: %d connection counts were not given back", left);
    atomic_store(&R.n_slots, 0);
    free(R.hubs);
    R.hubs = NULL;
    R.n_hubs = 0;
    while (R.presence != NULL) {
        struct presence *p = R.presence;
        R.presence = p->next;
        free(p);
    }
}

/* ---- metrics ---- */

/* What each cap holds now: the process's slots, and the counters' sums by kind. */
static void caps_held(long held[CAP_COUNT])
{
    memset(held, 0, CAP_COUNT * sizeof(*held));
    held[CAP_PROCESS] = atomic_load(&R.n_slots);
    pthread_mutex_lock(&R.counters_lock);
    for (size_t i = 0; i < CN_ARRAY_SIZE(R.counters); i++)
        for (struct counter *c = R.counters[i]; c != NULL; c = c->next)
            held[c->key[0] == 'p'   ? CAP_PRINCIPAL
                 : c->key[0] == 't' ? CAP_TENANT
                                    : CAP_ANON] += c->n;
    pthread_mutex_unlock(&R.counters_lock);
}

static void collect(cn_buf_t *out, void *data)
{
    (void)data;
    long subs = 0;
    pthread_mutex_lock(&R.lock);
    for (int i = 0; i < R.n_hubs; i++)
        subs += atomic_load(&R.hubs[i].n_subs);
    pthread_mutex_unlock(&R.lock);
    static const cn_metric_def_t series[] = {
        {"cairn_realtime_connections", "gauge", "Open WebSocket and SSE connections."},
        {"cairn_realtime_subscriptions", "gauge", "Channel subscriptions of open connections."},
        {"cairn_realtime_events_total", "counter", "Committed events handed to the hub."},
        {"cairn_realtime_deliveries_total", "counter", "Events sent live to a connection."},
        {"cairn_realtime_slow_closes_total", "counter",
         "Connections closed because their send queue was full (1008)."},
        {"cairn_realtime_auth_failures_total", "counter",
         "Connections closed for missing or bad credentials (4401)."},
    };
    const uint64_t values[] = {
        (uint64_t)atomic_load(&stats.connections), (uint64_t)subs,
        (uint64_t)atomic_load(&stats.events),      (uint64_t)atomic_load(&stats.deliveries),
        (uint64_t)atomic_load(&stats.slow_closes), (uint64_t)atomic_load(&stats.auth_failures)};
    _Static_assert(CN_ARRAY_SIZE(series) == CN_ARRAY_SIZE(values), "one value per series");
    cn_metrics_render_plain(out, series, values, CN_ARRAY_SIZE(series));
    cn_buf_lit(out, "# HELP cairn_realtime_refusals_total Realtime connections refused by a cap "
                    "(429 before the upgrade, or close 4429).\n"
                    "# TYPE cairn_realtime_refusals_total counter\n");
    for (int cap = CAP_PRINCIPAL; cap < CAP_COUNT; cap++)
        cn_buf_appendf(out, "cairn_realtime_refusals_total{cap=\"%s\"} %ld\n", caps[cap].label,
                       atomic_load(&stats.refusals[cap]));
    long held[CAP_COUNT];
    caps_held(held);
    cn_buf_lit(out, "# HELP cairn_realtime_cap_held Connections counted against each cap, summed"
                    " over principals, tenants and client addresses.\n"
                    "# TYPE cairn_realtime_cap_held gauge\n");
    for (int cap = CAP_PRINCIPAL; cap < CAP_COUNT; cap++)
        cn_buf_appendf(out, "cairn_realtime_cap_held{cap=\"%s\"} %ld\n", caps[cap].label,
                       held[cap]);
    cn_buf_appendf(out,
                   "# HELP cairn_realtime_queued_bytes Unsent bytes of all realtime connections"
                   " (at most realtime.max_queued_bytes_total).\n"
                   "# TYPE cairn_realtime_queued_bytes gauge\n"
                   "cairn_realtime_queued_bytes %zu\n",
                   atomic_load(&R.queued_total));
}

/* ---- module ---- */

static int start(const cn_config_t *cfg, cn_store_t *store, cn_err_t *err)
{
    (void)store;
    (void)err;
    R.cfg = cfg;
    R.heartbeat_ms = cfg->rt_heartbeat_s * 1000;
    R.max_queue = (size_t)cfg->rt_max_queue_bytes;
    R.max_message = (size_t)cfg->rt_max_message_bytes;
    R.max_subs = cfg->rt_max_subscriptions;
    R.max_connections = cfg->rt_max_connections;
    R.max_per_tenant = cfg->rt_max_per_tenant;
    R.max_per_principal = cfg->rt_max_per_principal;
    R.max_anon_per_ip = cfg->rt_max_anon_per_ip;
    R.max_queued_total = (size_t)cfg->rt_max_queued_bytes_total;
    cn_events_configure(cfg->rt_history_count, cfg->rt_history_age_s);
    cn_store_add_hook(&cn_events_hook);
    cn_events_subscribe("", on_event, NULL);
    return 0;
}

static const cn_field_t sse_fields[] = {
    {"channel", CN_T_STRING, .required = 1, .min_len = 1, .max_len = CN_CHANNEL_MAX,
     .description = "The channel to stream (\"notes\")"},
    {0},
};
static const cn_schema_t sse_query = {"RealtimeStreamQuery", sse_fields};

static const cn_field_t presence_fields[] = {
    {"subject", CN_T_STRING, .required = 1, .description = "The user (or API key) connected"},
    {"connections", CN_T_INTEGER, .required = 1},
    {0},
};
static const cn_schema_t presence_schema = {"Presence", presence_fields};
static const cn_field_t presence_list_fields[] = {
    CN_R_ARRAY_OF("items", &presence_schema),
    {0},
};
static const cn_schema_t presence_list_schema = {"PresenceList", presence_list_fields};

static const cn_route_t routes[] = {
    {CN_GET, "/api/v1/realtime", get_realtime, NULL,
     .summary = "WebSocket upgrade to the realtime hub (authenticates with a header or its "
                "first message; see docs/realtime.md)",
     .success_status = 101, .errors = CN_ANS_400, .operation = "realtime.connect"},
    {CN_GET, "/api/v1/realtime/sse", get_sse, "realtime.read", .query = &sse_query,
     .summary = "Server-Sent Events stream of one channel (resumes from Last-Event-ID)",
     .response_type = "text/event-stream", .operation = "realtime.stream"},
    {CN_GET, "/api/v1/realtime/presence", get_presence, "realtime.read",
     .summary = "Users of the tenant with an open realtime connection",
     .response = &presence_list_schema, .operation = "realtime.presence"},
    {0},
};

static const cn_permission_t permissions[] = {
    {"realtime.read", "Connect to the realtime hub (each channel also needs its own permission)",
     CN_ROLES_ALL},
    {0},
};

const cn_app_t cn_realtime_app = {
    .name = "realtime",
    .description = "Realtime hub: event history, WebSocket and Server-Sent Events delivery",
    .migrations = cn_events_migrations,
    .routes = routes,
    .permissions = permissions,
    .start = start,
};
