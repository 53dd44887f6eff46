/*
 * Delivering committed events in seq order per channel, whichever thread or node committed
 * them (see events.c for numbering). Two loops of a node commit at once on PostgreSQL, and
 * other nodes' events come over the bus, so a channel's events reach this process in any
 * order: each channel keeps the last seq delivered here and holds back what comes early.
 * A gap that stays open for GAP_WAIT_MS (an event lost on the way, or a node that died
 * between its commit and its publish) is filled from realtime_events by the relay thread,
 * which also catches up every known channel after the bus reconnects. Subscribers are
 * called under the order lock, so they never run concurrently (events.h).
 */
#include "core/bus.h"
#include "core/events.h"
#include "core/events_int.h"
#include "core/log.h"
#include "store/store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GAP_WAIT_MS 200
#define MAX_CHANNELS 65536 /* past it, channels holding nothing are forgotten */
#define FILL_ROWS 1000     /* events read per fill statement */

typedef struct {
    int64_t seq, at;
    char *type, *data; /* one allocation: type '\0' data '\0' */
    size_t data_len;
} held_t;

typedef struct st_ord_t {
    struct st_ord_t *next;
    uint64_t hash;
    int64_t delivered; /* every seq up to it was delivered here (or predates this entry) */
    int64_t held_since_ms;
    char epoch[CN_EPOCH_LEN + 1];
    held_t *held; /* early events, ascending seq */
    size_t n_held, cap_held;
    int catch_up; /* read from the database after delivered (the bus was away) */
    size_t tenant_len;
    char key[]; /* tenant '\n' channel */
} ord_t;

static struct {
    pthread_mutex_t lock; /* the table; held while subscribers run */
    pthread_cond_t wake;  /* the relay: something is held, or a catch-up is asked */
    ord_t **buckets;
    size_t cap, count;
    pthread_t relay;
    int relay_running, stopping;
    cn_store_t *store; /* the relay's */
} order = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static ord_t *find(const char *tenant, const char *channel, uint64_t h)
{
    if (order.cap == 0)
        return NULL;
    size_t tl = strlen(tenant);
    for (ord_t *o = order.buckets[h & (order.cap - 1)]; o != NULL; o = o->next)
        if (o->hash == h && o->tenant_len == tl && memcmp(o->key, tenant, tl) == 0 &&
            strcmp(o->key + tl + 1, channel) == 0)
            return o;
    return NULL;
}

static void drop_held(ord_t *o, size_t n)
{
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++)
        free(o->held[i].type);
    memmove(o->held, o->held + n, (o->n_held - n) * sizeof(held_t));
    o->n_held -= n;
}

static void forget_idle(void)
{
    for (size_t i = 0; i < order.cap; i++)
        for (ord_t **po = &order.buckets[i]; *po != NULL;) {
            ord_t *o = *po;
            if (o->n_held == 0) {
                *po = o->next;
                free(o->held);
                free(o);
                order.count--;
            } else {
                po = &o->next;
            }
        }
}

static ord_t *make(const char *tenant, const char *channel, uint64_t h, int64_t delivered,
                   const char *epoch)
{
    if (order.count >= MAX_CHANNELS)
        forget_idle();
    if (order.count + 1 > order.cap / 2) {
        size_t cap = order.cap ? order.cap * 2 : 256;
        ord_t **b = cn_calloc(cap, sizeof(ord_t *));
        for (size_t i = 0; i < order.cap; i++)
            for (ord_t *x = order.buckets[i], *next; x != NULL; x = next) {
                next = x->next;
                x->next = b[x->hash & (cap - 1)];
                b[x->hash & (cap - 1)] = x;
            }
        free(order.buckets);
        order.buckets = b;
        order.cap = cap;
    }
    size_t tl = strlen(tenant), cl = strlen(channel);
    ord_t *o = cn_calloc(1, sizeof(*o) + tl + cl + 2);
    o->hash = h;
    o->delivered = delivered;
    snprintf(o->epoch, sizeof(o->epoch), "%s", epoch);
    o->tenant_len = tl;
    memcpy(o->key, tenant, tl);
    o->key[tl] = '\n';
    memcpy(o->key + tl + 1, channel, cl + 1);
    o->next = order.buckets[h & (order.cap - 1)];
    order.buckets[h & (order.cap - 1)] = o;
    order.count++;
    return o;
}

/* Keeps a copy of an early event, in seq order (a seq held already is not held twice). */
static void hold(ord_t *o, const cn_event_t *ev)
{
    size_t at = 0;
    while (at < o->n_held && o->held[at].seq < ev->seq)
        at++;
    if (at < o->n_held && o->held[at].seq == ev->seq)
        return;
    if (o->n_held == o->cap_held) {
        o->cap_held = o->cap_held ? o->cap_held * 2 : 8;
        o->held = cn_realloc(o->held, o->cap_held * sizeof(held_t));
    }
    memmove(o->held + at + 1, o->held + at, (o->n_held - at) * sizeof(held_t));
    size_t tl = strlen(ev->type);
    held_t *e = &o->held[at];
    e->seq = ev->seq;
    e->at = ev->at_ms;
    e->type = cn_malloc(tl + 1 + ev->data_len + 1);
    memcpy(e->type, ev->type, tl + 1);
    e->data = e->type + tl + 1;
    memcpy(e->data, ev->data, ev->data_len);
    e->data[ev->data_len] = '\0';
    e->data_len = ev->data_len;
    if (o->n_held++ == 0)
        o->held_since_ms = cn_now_ms();
    pthread_cond_signal(&order.wake);
}

/* Delivers what o holds from delivered+1 on, as long as it is contiguous. */
static void drain(ord_t *o, const char *tenant, const char *channel)
{
    size_t n = 0;
    for (; n < o->n_held && o->held[n].seq <= o->delivered + 1; n++) {
        held_t *e = &o->held[n];
        if (e->seq != o->delivered + 1)
            continue;
        cn_event_t ev = {tenant, channel, e->type, e->data, e->data_len, e->seq, o->epoch, e->at};
        o->delivered = e->seq;
        cn__events_dispatch(&ev);
    }
    drop_held(o, n);
    if (o->n_held > 0)
        o->held_since_ms = cn_now_ms(); /* a new gap starts waiting */
}

/* order.lock held */
static void accept_locked(const cn_event_t *ev)
{
    uint64_t h = cn__events_key_hash(ev->tenant_id, ev->channel);
    ord_t *o = find(ev->tenant_id, ev->channel, h);
    if (o == NULL) /* first sight: nobody here waits for anything older */
        o = make(ev->tenant_id, ev->channel, h, ev->seq - 1, ev->epoch);
    if (strcmp(o->epoch, ev->epoch) != 0) { /* the numbering restarted (a restore) */
        drop_held(o, o->n_held);
        o->delivered = ev->seq - 1;
        snprintf(o->epoch, sizeof(o->epoch), "%s", ev->epoch);
    }
    if (ev->seq <= o->delivered)
        return; /* delivered already (a fill or a catch-up overlapping the bus) */
    if (ev->seq > o->delivered + 1) {
        hold(o, ev);
        return;
    }
    o->delivered = ev->seq;
    cn__events_dispatch(ev);
    drain(o, ev->tenant_id, ev->channel);
}

void cn__events_accept(const cn_event_t *ev)
{
    pthread_mutex_lock(&order.lock);
    accept_locked(ev);
    pthread_mutex_unlock(&order.lock);
}

void cn__events_floor(const char *tenant, const char *channel, int64_t *seq,
                      char epoch[CN_EPOCH_LEN + 1])
{
    uint64_t h = cn__events_key_hash(tenant, channel);
    pthread_mutex_lock(&order.lock);
    ord_t *o = find(tenant, channel, h);
    if (o == NULL && epoch[0] != '\0')
        make(tenant, channel, h, *seq, epoch); /* events after seq are awaited in order */
    else if (o != NULL && strcmp(o->epoch, epoch) == 0 && o->delivered > *seq)
        *seq = o->delivered;
    pthread_mutex_unlock(&order.lock);
}

/* ---- the wire form of an event between nodes ---- */

/* tenant '\n' channel '\n' seq '\n' epoch '\n' at '\n' type '\n' data */
void cn__events_publish(const cn_event_t *ev)
{
    if (cn_bus_process() == NULL || strchr(ev->type, '\n') != NULL)
        return;
    cn_buf_t b = {0};
    cn_buf_appendf(&b, "%s\n%s\n%lld\n%s\n%lld\n%s\n", ev->tenant_id, ev->channel,
                   (long long)ev->seq, ev->epoch, (long long)ev->at_ms, ev->type);
    cn_buf_append(&b, ev->data, ev->data_len);
    cn_bus_send("ev", b.data, b.len);
    cn_buf_free(&b);
}

/* Splits the next '\n'-ended field off *p (of *n bytes left) into out (cap bytes). */
static int field(const char **p, size_t *n, char *out, size_t cap)
{
    const char *nl = memchr(*p, '\n', *n);
    if (nl == NULL || (size_t)(nl - *p) >= cap)
        return -1;
    size_t len = (size_t)(nl - *p);
    memcpy(out, *p, len);
    out[len] = '\0';
    *n -= len + 1;
    *p = nl + 1;
    return 0;
}

static void on_bus_event(const char *subject, const char *data, size_t len, void *ud)
{
    (void)subject;
    (void)ud;
    char tenant[128], channel[CN_CHANNEL_MAX + 1], seq[24], epoch[CN_EPOCH_LEN + 1], at[24],
        type[128];
    const char *p = data;
    size_t n = len;
    if (field(&p, &n, tenant, sizeof(tenant)) || field(&p, &n, channel, sizeof(channel)) ||
        field(&p, &n, seq, sizeof(seq)) || field(&p, &n, epoch, sizeof(epoch)) ||
        field(&p, &n, at, sizeof(at)) || field(&p, &n, type, sizeof(type)) ||
        !cn_events_channel_valid(channel)) {
        cn_log(CN_LOG_WARN, NULL, "bus: an event message that does not parse was ignored");
        return;
    }
    char *body = cn_malloc(n + 1); /* subscribers read data as a string */
    memcpy(body, p, n);
    body[n] = '\0';
    cn_event_t ev = {
        tenant, channel, type, body, n, strtoll(seq, NULL, 10), epoch, strtoll(at, NULL, 10)};
    if (ev.seq > 0)
        cn__events_accept(&ev);
    free(body);
}

/* Every channel known here is read again from its last delivered seq (the relay does it). */
static void catch_up_all(void)
{
    pthread_mutex_lock(&order.lock);
    for (size_t i = 0; i < order.cap; i++)
        for (ord_t *o = order.buckets[i]; o != NULL; o = o->next)
            o->catch_up = 1;
    pthread_cond_signal(&order.wake);
    pthread_mutex_unlock(&order.lock);
}

/* The bus came back: whatever was published meanwhile may be lost, here and by this node
 * to the others (what its client was writing when the connection broke), so this node
 * catches up and asks the others to. The ask goes out after what the client kept while
 * away, so a node that hears it has heard what survived. */
static void on_bus_state(int connected, void *ud)
{
    (void)ud;
    if (!connected)
        return;
    catch_up_all();
    cn_bus_send("evsync", "", 0);
}

static void on_bus_sync(const char *subject, const char *data, size_t len, void *ud)
{
    (void)subject;
    (void)data;
    (void)len;
    (void)ud;
    catch_up_all();
}

/* ---- the relay: filling gaps from the history ---- */

typedef struct {
    char *key; /* tenant '\n' channel */
    size_t tenant_len;
    int64_t after, before; /* read seq in (after, before); before 0: to the end */
    char epoch[CN_EPOCH_LEN + 1];
} fill_t;

/* Reads channel f's events in (after, before) and accepts them. 0, or a store error. */
static int fill(cn_store_t *s, const fill_t *f, int64_t *first, size_t *rows, cn_err_t *err)
{
    char tenant[128];
    snprintf(tenant, sizeof(tenant), "%.*s", (int)f->tenant_len, f->key);
    const char *channel = f->key + f->tenant_len + 1;
    cn_val_t args[] = {CN_VTEXT(tenant), CN_VTEXT(channel), CN_VINT(f->after),
                       CN_VINT(f->before > 0 ? f->before : INT64_MAX), CN_VINT(FILL_ROWS)};
    cn_stmt_t *st;
    int rc = cn_store_query(s,
                            "SELECT seq, type, data, at FROM realtime_events WHERE tenant_id = $1"
                            " AND channel = $2 AND seq > $3 AND seq < $4 ORDER BY seq LIMIT $5",
                            args, 5, &st, err);
    if (rc != 0)
        return rc;
    *first = 0;
    *rows = 0;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        ++*rows;
        size_t dl;
        const char *data = cn_stmt_text(st, 2, &dl);
        cn_event_t ev = {
            tenant,   channel,           cn_stmt_text(st, 1, NULL), data, dl, cn_stmt_int(st, 0),
            f->epoch, cn_stmt_int(st, 3)};
        if (*first == 0)
            *first = ev.seq;
        pthread_mutex_lock(&order.lock);
        ord_t *o = find(tenant, channel, cn__events_key_hash(tenant, channel));
        if (o != NULL && o->delivered < ev.seq - 1 && ev.seq == *first && o->n_held == 0 &&
            f->before == 0)
            o->delivered = ev.seq - 1; /* catching up past pruned history: a jump */
        accept_locked(&ev);
        pthread_mutex_unlock(&order.lock);
    }
    cn_stmt_finish(st);
    return rc == CN_DONE ? 0 : rc;
}

/* Collects the channels to read now: gaps older than GAP_WAIT_MS and catch-ups. */
static size_t due_fills(fill_t **out, int64_t now, int64_t *next_ms)
{
    size_t n = 0, cap = 0;
    *out = NULL;
    *next_ms = INT64_MAX;
    for (size_t i = 0; i < order.cap; i++)
        for (ord_t *o = order.buckets[i]; o != NULL; o = o->next) {
            int gap = o->n_held > 0;
            if (gap && now - o->held_since_ms < GAP_WAIT_MS) {
                if (o->held_since_ms + GAP_WAIT_MS < *next_ms)
                    *next_ms = o->held_since_ms + GAP_WAIT_MS;
                continue;
            }
            if (!gap && !o->catch_up)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                *out = cn_realloc(*out, cap * sizeof(fill_t));
            }
            fill_t *f = &(*out)[n++];
            f->key = cn_strdup(o->key);
            f->tenant_len = o->tenant_len;
            f->after = o->delivered;
            f->before = gap ? o->held[0].seq : 0;
            memcpy(f->epoch, o->epoch, sizeof(f->epoch));
            o->catch_up = 0;
            if (gap)
                o->held_since_ms = now; /* looked at: wait again before the next look */
        }
    return n;
}

/* After a fill, a gap that is still open names events the history no longer has (pruned):
 * delivery goes on after it, and subscribers see the jump (realtime: resync_required). */
static void skip_lost(const fill_t *f)
{
    char tenant[128];
    snprintf(tenant, sizeof(tenant), "%.*s", (int)f->tenant_len, f->key);
    const char *channel = f->key + f->tenant_len + 1;
    pthread_mutex_lock(&order.lock);
    ord_t *o = find(tenant, channel, cn__events_key_hash(tenant, channel));
    if (o != NULL && o->n_held > 0 && o->delivered == f->after && o->held[0].seq == f->before) {
        cn_log(CN_LOG_WARN, NULL,
               "events: seq %lld..%lld of a channel are not in the history;"
               " delivery goes on after them",
               (long long)f->after + 1, (long long)f->before - 1);
        o->delivered = f->before - 1;
        drain(o, tenant, channel);
    }
    pthread_mutex_unlock(&order.lock);
}

/* Asks for channel f to be read again after what was delivered (a catch-up longer than
 * one statement's rows). */
static void read_on(const fill_t *f)
{
    char tenant[128];
    snprintf(tenant, sizeof(tenant), "%.*s", (int)f->tenant_len, f->key);
    const char *channel = f->key + f->tenant_len + 1;
    pthread_mutex_lock(&order.lock);
    ord_t *o = find(tenant, channel, cn__events_key_hash(tenant, channel));
    if (o != NULL)
        o->catch_up = 1;
    pthread_mutex_unlock(&order.lock);
}

static void *relay_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&order.lock);
    while (!order.stopping) {
        fill_t *fills;
        int64_t next_ms;
        size_t n = due_fills(&fills, cn_now_ms(), &next_ms);
        if (n == 0) {
            if (next_ms == INT64_MAX) {
                pthread_cond_wait(&order.wake, &order.lock);
            } else {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                int64_t ms = next_ms - cn_now_ms();
                ms = ms < 1 ? 1 : ms;
                until.tv_sec += ms / 1000;
                until.tv_nsec += (ms % 1000) * 1000000;
                if (until.tv_nsec >= 1000000000)
                    until.tv_sec++, until.tv_nsec -= 1000000000;
                pthread_cond_timedwait(&order.wake, &order.lock, &until);
            }
            continue;
        }
        pthread_mutex_unlock(&order.lock);
        for (size_t i = 0; i < n; i++) {
            cn_err_t err = {0};
            int64_t first = 0;
            size_t rows = 0;
            if (fill(order.store, &fills[i], &first, &rows, &err) != 0)
                cn_log(CN_LOG_WARN, NULL, "events: cannot read the history to fill a gap: %s",
                       err.msg);
            else if (fills[i].before > 0)
                skip_lost(&fills[i]);
            else if (rows == FILL_ROWS) /* a long catch-up: the next look reads on */
                read_on(&fills[i]);
            free(fills[i].key);
        }
        free(fills);
        pthread_mutex_lock(&order.lock);
    }
    pthread_mutex_unlock(&order.lock);
    return NULL;
}

int cn_events_relay_start(cn_store_t *store, cn_err_t *err)
{
    order.store = store;
    cn_bus_t *bus = cn_bus_process();
    if (bus != NULL) {
        int rc = cn_bus_subscribe(bus, "ev", on_bus_event, NULL, err);
        if (rc == 0)
            rc = cn_bus_subscribe(bus, "evsync", on_bus_sync, NULL, err);
        if (rc != 0)
            return rc;
        cn_bus_watch(bus, on_bus_state, NULL);
    }
    order.stopping = 0;
    pthread_create(&order.relay, NULL, relay_main, NULL);
    order.relay_running = 1;
    return 0;
}

void cn_events_relay_stop(void)
{
    if (order.relay_running) {
        pthread_mutex_lock(&order.lock);
        order.stopping = 1;
        pthread_cond_signal(&order.wake);
        pthread_mutex_unlock(&order.lock);
        pthread_join(order.relay, NULL);
        order.relay_running = 0;
    }
    cn_store_close(order.store);
    order.store = NULL;
}

void cn__events_order_reset(void)
{
    pthread_mutex_lock(&order.lock);
    for (size_t i = 0; i < order.cap; i++)
        for (ord_t *o = order.buckets[i], *next; o != NULL; o = next) {
            next = o->next;
            drop_held(o, o->n_held);
            free(o->held);
            free(o);
        }
    free(order.buckets);
    order.buckets = NULL;
    order.cap = order.count = 0;
    pthread_mutex_unlock(&order.lock);
}
