/*
 * Realtime hub (see realtime.h and docs/realtime.md): clients and their send queues,
 * subscriptions, the fan-out of committed events to every loop, the tick, the module. The
 * WebSocket and event-stream sides, the protocol's messages, presence and the connection
 * caps have files of their own (realtime_int.h lists them).
 *
 * Ordering: the event bus calls on_event for one event at a time, each channel's in seq
 * order (whichever loop or node committed it: events_order.c), so the messages a loop
 * receives carry each channel's seq in increasing order. A subscription is registered before its
 * history is read (through a connection of its own that sees every commit so far), so an event is
 * either in that history or arrives afterwards through the queue; whatever arrives twice is dropped
 * by its seq.
 *
 * Memory: a client is one allocation plus wslay's context; outgoing bytes go to the
 * client's buffer and leave in one write per loop turn.
 */
#include "core/realtime_int.h"
#include "core/events_int.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/store_open.h"
#include "core/system.h"

#include <stdlib.h>
#include <string.h>

who_t *cn__rt_who_new(const cn_principal_t *p)
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

struct st_rt_process_t cn__realtime = {.lock = PTHREAD_MUTEX_INITIALIZER,
                                       .presence_lock = PTHREAD_MUTEX_INITIALIZER,
                                       .counters_lock = PTHREAD_MUTEX_INITIALIZER};

_Thread_local hub_t *cn__rt_this_hub;

struct st_rt_stats_t cn__rt_stats;

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

void cn__rt_mark_dirty(client_t *c)
{
    if (!h2o_linklist_is_linked(&c->dirty))
        h2o_linklist_insert(&c->hub->dirty, &c->dirty);
}

static size_t queued_bytes(const client_t *c)
{
    size_t n = c->out.len + c->writing.len;
    return c->ws ? n + wslay_event_get_queued_msg_length(c->ws) : n;
}

/* Brings cn__realtime.queued_total up to date with what c holds now (its unsent and in-flight
 * bytes; wslay's own queue holds only control frames, a few bytes). */
void cn__rt_account(client_t *c)
{
    size_t now = c->out.len + c->writing.len;
    if (now >= c->accounted)
        atomic_fetch_add_explicit(&cn__realtime.queued_total, now - c->accounted,
                                  memory_order_relaxed);
    else
        atomic_fetch_sub_explicit(&cn__realtime.queued_total, c->accounted - now,
                                  memory_order_relaxed);
    c->accounted = now;
}

/* Closes a client that cannot take len more bytes: its own queue (realtime.max_queue_bytes)
 * or all connections' together (realtime.max_queued_bytes_total) would pass their limit.
 * What it has not been handed to the socket yet is dropped at once (whole frames and
 * records only: nothing is cut in half); it resumes from the history. */
static int too_slow(client_t *c, size_t len)
{
    const char *which;
    if (queued_bytes(c) + len > cn__realtime.max_queue)
        which = "its send queue is full";
    else if (atomic_load_explicit(&cn__realtime.queued_total, memory_order_relaxed) + len >
             cn__realtime.max_queued_total)
        which = "the send queues of all connections are full";
    else
        return 0;
    cn_log(CN_LOG_INFO, NULL,
           "realtime: closing a client that does not keep up (%zu bytes queued; %s)",
           queued_bytes(c), which);
    atomic_fetch_add_explicit(&cn__rt_stats.slow_closes, 1, memory_order_relaxed);
    c->out.len = 0;
    cn__rt_account(c);
    if (c->kind == CLIENT_WS) {
        cn__rt_ws_queue_close(c, 1008, "send queue full: reconnect and resume");
    } else {
        c->closing = 1;
        cn__rt_mark_dirty(c);
    }
    return 1;
}

/* Queues one message; a client that cannot take it is closed as too slow (1008). */
void cn__rt_client_send(client_t *c, const char *json, size_t len, const char *sse, size_t sse_len)
{
    if (c->closing || c->dead || too_slow(c, len))
        return;
    if (c->kind == CLIENT_WS) {
        /* written straight into the client's buffer: queueing through wslay would cost a
         * malloc and two copies per delivery. wslay still parses what clients send and
         * writes the control frames (its sends all complete at once, so frames never
         * interleave; nothing follows a close, see c->closing). */
        uint8_t hdr[10];
        cn_buf_append(&c->out, hdr, cn__rt_ws_text_header(hdr, len));
        cn_buf_append(&c->out, json, len);
    } else if (sse != NULL) { /* callers that only speak to WebSockets pass none */
        cn_buf_append(&c->out, sse, sse_len);
    }
    cn__rt_account(c);
    cn__rt_mark_dirty(c);
}

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
        h2o_socket_write(c->sock, &v, 1, cn__rt_on_ws_written);
    else
        h2o_send(c->req, &v, 1, c->closing ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

void cn__rt_written(client_t *c)
{
    c->busy = 0;
    c->writing.len = 0;
    cn__rt_account(c);
    flush(c);
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
                cn__rt_client_free(c);
                return;
            }
            over = !wslay_event_want_read(c->ws) && !wslay_event_want_write(c->ws);
        }
        start_write(c);
        /* the close frame has left (or the peer is gone): nothing more to say */
        if (!c->busy && (over || (c->closing && wslay_event_get_close_sent(c->ws))))
            cn__rt_client_free(c);
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

void cn__rt_flush_dirty(hub_t *hub)
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

void cn__rt_client_free(client_t *c)
{
    while (c->n_subs > 0)
        drop_subscription(c, c->n_subs - 1);
    free(c->subs);
    cn__rt_caps_release(c);
    if (c->principal != NULL) {
        cn__rt_presence_add(c->principal, -1);
        free(c->principal);
    }
    if (h2o_linklist_is_linked(&c->dirty))
        h2o_linklist_unlink(&c->dirty);
    if (h2o_linklist_is_linked(&c->link)) {
        h2o_linklist_unlink(&c->link);
        atomic_fetch_sub_explicit(&cn__rt_stats.connections, 1, memory_order_relaxed);
    }
    cn_buf_free(&c->out);
    cn_buf_free(&c->writing);
    cn__rt_account(c);
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

static int send_replayed(const cn_event_t *ev, void *ud)
{
    client_t *c = ((void **)ud)[0];
    sub_t *s = ((void **)ud)[1];
    cn_buf_t j = {0}, sse = {0};
    cn__rt_event_json(&j, ev);
    if (c->kind == CLIENT_SSE)
        cn__rt_event_sse(&sse, ev, j.data, j.len);
    cn__rt_client_send(c, j.data, j.len, sse.data, sse.len);
    cn_buf_free(&j);
    cn_buf_free(&sse);
    s->last_seq = ev->seq;
    return c->closing ? 1 : 0;
}

/* The permission a channel needs, from the modules' channel tables (NULL: unknown). */
const char *cn__rt_channel_permission(const char *channel)
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
    const char *perm = cn__rt_channel_permission(channel);
    if (perm == NULL) {
        cn__rt_send_error(c, "unknown_channel", "no module publishes on this channel", channel);
        return -1;
    }
    cn_err_t err = {0};
    cn_principal_t p;
    who_principal(c->principal, &p);
    if (cn_principal_allowed(c->hub->store, &p, perm, &err) != 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "this channel needs the permission %s", perm);
        cn__rt_send_error(c, "forbidden", msg, channel);
        return -1;
    }
    return 0;
}

/* A subscription's key on this loop: channels are always the caller's tenant's. */
static void channel_key(const client_t *c, const char *channel, char key[256])
{
    snprintf(key, 256, "%s\n%s", c->principal->tenant_id, channel);
}

void cn__rt_subscribe(client_t *c, const char *channel, int64_t since, const char *epoch)
{
    char key[256];
    channel_key(c, channel, key);
    int idx;
    if (find_sub(c, key, &idx) != NULL) /* a resubscription starts over */
        drop_subscription(c, idx);
    if (c->n_subs >= cn__realtime.max_subs) {
        cn__rt_send_error(c, "too_many_subscriptions", "unsubscribe from a channel first", channel);
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
        cn__rt_send_error(c, "unavailable", "the channel cannot be read now; retry", channel);
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
    cn__rt_send_position(c, "subscribed", channel, &pos, &at);
    c->subs[me].last_seq = since >= 0 ? since : pos.seq;
    if (since < 0)
        return;
    void *ud[2] = {c, &c->subs[me]};
    int rc = cn_events_replay(c->hub->reader, tenant, channel, since, epoch, &pos, send_replayed,
                              ud, &err);
    if (rc == CN_RESYNC) { /* the gap cannot be filled: the client reloads, we go on live */
        if (c->subs[me].last_seq < pos.seq)
            c->subs[me].last_seq = pos.seq;
        cn__rt_send_position(c, "resync_required", channel, &pos, &pos);
    } else if (rc < 0) {
        cn_log(CN_LOG_ERROR, NULL, "realtime: cannot read channel history: %s", err.msg);
        cn__rt_send_error(c, "unavailable", "the history cannot be read now; subscribe again",
                          channel);
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
    cn__rt_send_jw(c, NULL, &b);
    cn_buf_free(&b);
}

/* 0: ready; -1: not allowed; 1: over a cap, refused here (only known after the upgrade). */
static int authenticated(client_t *c, const cn_principal_t *p)
{
    cn_err_t err = {0};
    if (cn_principal_allowed(c->hub->store, p, "realtime.read", &err) != 0)
        return -1;
    cn__rt_anon_give(c); /* from here on it counts for its principal, or is refused */
    who_t *w = cn__rt_who_new(p);
    cap_t cap = cn__rt_principal_take(w);
    if (cap != CAP_NONE) {
        free(w);
        cn__rt_count_refusal(cap);
        char msg[160];
        snprintf(msg, sizeof(msg), "too many realtime connections: the %s cap (%s) is reached",
                 cn__rt_caps[cap].label, cn__rt_caps[cap].setting);
        cn__rt_send_error(c, "too_many_connections", msg, NULL);
        snprintf(msg, sizeof(msg), "too many connections: %s", cn__rt_caps[cap].setting);
        cn__rt_ws_queue_close(c, 4429, msg);
        return 1;
    }
    c->principal = w;
    c->has_principal = 1;
    cn__rt_presence_add(c->principal, 1);
    cn__rt_send_ready(c);
    return 0;
}

void cn__rt_on_text(client_t *c, const char *text, size_t len)
{
    cn_rt_msg_t m;
    char why[200];
    if (cn_rt_parse(text, len, &m, why, sizeof(why)) != 0) {
        cn__rt_send_error(c, "invalid_message", why, NULL);
        return;
    }
    if (m.op == RT_PING) {
        cn_buf_t b = {0};
        cn_buf_lit(&b, "{\"op\":\"pong\"}");
        cn__rt_send_jw(c, NULL, &b);
        cn_buf_free(&b);
        return;
    }
    if (m.op == RT_AUTH) {
        if (c->principal != NULL) {
            cn__rt_send_error(c, "invalid_message", "already authenticated", NULL);
            return;
        }
        cn_principal_t p;
        memset(&p, 0, sizeof(p));
        cn_err_t err = {0};
        int rc = cn_token_authenticate(c->hub->store, m.token, strlen(m.token), &p, &err);
        if (rc == 0 && (rc = authenticated(c, &p)) > 0)
            return;
        if (rc != 0) {
            cn__rt_send_error(c, "unauthorized", err.msg[0] ? err.msg : "the token is not valid",
                              NULL);
            cn__rt_ws_queue_close(c, 4401, "unauthorized");
        }
        return;
    }
    if (c->principal == NULL) {
        cn__rt_send_error(c, "unauthorized", "authenticate first: {\"op\":\"auth\",\"token\":...}",
                          NULL);
        cn__rt_ws_queue_close(c, 4401, "unauthorized");
        return;
    }
    if (m.op == RT_UNSUBSCRIBE) {
        unsubscribe(c, m.channel);
        return;
    }
    if (may_subscribe(c, m.channel) == 0)
        cn__rt_subscribe(c, m.channel, m.since, m.epoch[0] ? m.epoch : NULL);
}

/* ---- fan-out ---- */

/* The delivering thread, under the event bus's delivery lock (see events.h): one message per
 * loop.
 *
 * Loops change their n_subs without cn__realtime.lock, so each loop's count is read exactly once
 * and that one reading decides both the message and the reference it holds: reading it again could
 * post more messages than the delivery has slots and references (a loop that subscribed meanwhile),
 * or fewer (one whose last subscriber left), and a loop would free the delivery while others still
 * read it. A loop skipped here because it had no subscriber yet reads this event from the history,
 * which already holds it (see the top of the file). */
static void on_event(const cn_event_t *ev, void *ud)
{
    (void)ud;
    atomic_fetch_add_explicit(&cn__rt_stats.events, 1, memory_order_relaxed);
    pthread_mutex_lock(&cn__realtime.lock);
    int any = 0;
    for (int i = 0; i < cn__realtime.n_hubs && !any; i++)
        any = cn__realtime.hubs[i].bound && atomic_load(&cn__realtime.hubs[i].n_subs) > 0;
    if (!any) { /* the common idle case: nothing formatted, nothing allocated */
        pthread_mutex_unlock(&cn__realtime.lock);
        return;
    }
    delivery_t *d = cn_calloc(1, sizeof(*d) + (size_t)cn__realtime.n_hubs * sizeof(dmsg_t));
    int targets = 0;
    for (int i = 0; i < cn__realtime.n_hubs; i++) {
        hub_t *hub = &cn__realtime.hubs[i];
        if (hub->bound && atomic_load(&hub->n_subs) > 0) {
            d->msgs[targets].d = d;
            d->msgs[targets++].to = hub;
        }
    }
    if (targets == 0) { /* the last subscribers left since the first look */
        pthread_mutex_unlock(&cn__realtime.lock);
        free(d);
        return;
    }
    cn_buf_t key = {0}, json = {0}, sse = {0};
    cn_buf_appendf(&key, "%s\n%s", ev->tenant_id, ev->channel);
    cn__rt_event_json(&json, ev);
    cn__rt_event_sse(&sse, ev, json.data, json.len);
    d->key = key.data;
    d->hash = cn_hash_str(key.data);
    d->json = json.data;
    d->json_len = json.len;
    d->sse = sse.data;
    d->sse_len = sse.len;
    d->seq = ev->seq;
    snprintf(d->epoch, sizeof(d->epoch), "%s", ev->epoch);
    atomic_init(&d->refs, targets);
    for (int k = 0; k < targets; k++)
        h2o_multithread_send_message(&d->msgs[k].to->receiver, &d->msgs[k].super);
    pthread_mutex_unlock(&cn__realtime.lock);
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
        if (d->seq > s->last_seq + 1) {
            /* the events between never reached this node and are gone from the history
             * (pruned before it could read them): never a silent gap */
            cn_position_t at = {.seq = d->seq - 1};
            memcpy(at.epoch, d->epoch, sizeof(at.epoch));
            cn__rt_send_position(c, "resync_required", strchr(d->key, '\n') + 1, &at, &at);
        }
        s->last_seq = d->seq;
        cn__rt_client_send(c, d->json, d->json_len, d->sse, d->sse_len);
        atomic_fetch_add_explicit(&cn__rt_stats.deliveries, 1, memory_order_relaxed);
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
    cn__rt_flush_dirty(hub);
}

/* ---- heartbeat and time limits ---- */

/* a session, or an API key (subject "key:<id>"), revoked since the connection opened; or a
 * session that moved to another tenant */
static int credential_revoked(const who_t *p)
{
    if (p->session_id[0])
        return cn_session_revoked(p->session_id, p->tenant_id);
    return strncmp(p->subject, "key:", 4) == 0 && cn_session_revoked(p->subject + 4, NULL);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    hub_t *hub = H2O_STRUCT_FROM_MEMBER(hub_t, tick, entry);
    uint64_t now = h2o_now(hub->loop);
    cn__rt_sse_reap_gone(hub);
    for (h2o_linklist_t *l = hub->clients.next, *next; l != &hub->clients; l = next) {
        next = l->next;
        client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, link, l);
        if (!c->busy && c->out.len == 0 && c->writing.cap + c->out.cap > 0) {
            cn_buf_free(&c->writing); /* idle: no buffer kept (there may be 10 000) */
            cn_buf_free(&c->out);
        }
        if (c->kind == CLIENT_WS && c->closing &&
            now - c->closing_ms > 2 * (uint64_t)cn__realtime.heartbeat_ms) {
            cn__rt_client_free(c); /* a peer that reads nothing never gets its close frame */
            continue;
        }
        if (c->principal != NULL && credential_revoked(c->principal)) {
            /* signed out (logout, password change, reset) or its API key revoked: the
             * connection ends with it */
            if (c->kind == CLIENT_WS) {
                cn__rt_ws_queue_close(c, 4401, "the session has been signed out");
            } else if (!c->closing) {
                c->closing = 1;
                cn__rt_mark_dirty(c);
            }
        } else if (c->kind == CLIENT_WS && c->principal == NULL &&
                   now - c->opened_ms > AUTH_TIMEOUT_MS) {
            cn__rt_ws_queue_close(c, 4401, "authentication timed out");
        } else if (c->kind == CLIENT_WS &&
                   now - c->last_rx_ms > 2 * (uint64_t)cn__realtime.heartbeat_ms) {
            cn__rt_client_free(c); /* silent for two intervals: the peer is gone */
            continue;
        } else if (now - c->last_ping_ms >= (uint64_t)cn__realtime.heartbeat_ms) {
            c->last_ping_ms = now;
            if (c->kind == CLIENT_WS) {
                cn__rt_ws_ping(c);
            } else {
                cn_buf_lit(&c->out, ": ping\n\n");
                cn__rt_mark_dirty(c);
            }
        }
    }
    cn__rt_flush_dirty(hub);
    h2o_timeout_link(hub->loop, &hub->tick_timeout, &hub->tick);
}

/* ---- loops ---- */

static void collect(cn_buf_t *out, void *data);

void cn_realtime_init(int n_loops)
{
    cn__realtime.hubs = cn_calloc((size_t)n_loops, sizeof(hub_t));
    cn__realtime.n_hubs = n_loops;
    cn_metrics_add_collector(collect, NULL); /* after cn_metrics_init, which resets them */
}

void cn_realtime_bind_loop(int index, h2o_context_t *ctx, cn_store_t *store)
{
    hub_t *hub = &cn__realtime.hubs[index];
    hub->ctx = ctx;
    hub->loop = ctx->loop;
    hub->store = store;
    h2o_linklist_init_anchor(&hub->clients);
    h2o_linklist_init_anchor(&hub->dirty);
    cn_err_t err = {0};
    if (cn_open_store(cn__realtime.cfg, 1, &hub->reader, &err) != 0) {
        cn_log(CN_LOG_ERROR, NULL, "realtime: no history connection, hub off: %s", err.msg);
        return;
    }
    h2o_multithread_register_receiver(ctx->queue, &hub->receiver, on_deliveries);
    h2o_timeout_init(hub->loop, &hub->tick_timeout, TICK_MS);
    hub->tick.cb = on_tick;
    h2o_timeout_link(hub->loop, &hub->tick_timeout, &hub->tick);
    cn__rt_this_hub = hub;
    pthread_mutex_lock(&cn__realtime.lock);
    hub->bound = 1;
    pthread_mutex_unlock(&cn__realtime.lock);
}

void cn_realtime_loop_shutdown(void)
{
    hub_t *hub = cn__rt_this_hub;
    if (hub == NULL || !hub->bound)
        return;
    for (h2o_linklist_t *l = hub->clients.next; l != &hub->clients; l = l->next) {
        client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, link, l);
        if (c->kind == CLIENT_WS) {
            cn__rt_ws_queue_close(c, 1001, "server shutting down");
        } else {
            c->closing = 1;
            cn__rt_mark_dirty(c);
        }
    }
    cn__rt_flush_dirty(hub);
}

void cn_realtime_loop_stop(void)
{
    hub_t *hub = cn__rt_this_hub;
    if (hub == NULL)
        return;
    pthread_mutex_lock(&cn__realtime.lock);
    hub->bound = 0; /* no more deliveries are posted to this loop */
    pthread_mutex_unlock(&cn__realtime.lock);
    /* cn__rt_client_free unlinks each (and touches no other client); an event stream's client_t
     * stays with its request's pool */
    for (h2o_linklist_t *node = hub->clients.next, *next; node != &hub->clients; node = next) {
        next = node->next;
        cn__rt_client_free(H2O_STRUCT_FROM_MEMBER(client_t, link, node));
    }
}

void cn_realtime_loop_free(void)
{
    hub_t *hub = cn__rt_this_hub;
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
    cn__rt_this_hub = NULL;
}

void cn_realtime_free(void)
{
    /* every connection ended through cn__rt_client_free: anything still counted is a missed path */
    int left = atomic_load(&cn__realtime.n_slots);
    for (size_t i = 0; i < CN_ARRAY_SIZE(cn__realtime.counters); i++)
        for (struct counter *c = cn__realtime.counters[i], *next; c != NULL; c = next, left++) {
            next = c->next;
            free(c);
        }
    memset(cn__realtime.counters, 0, sizeof(cn__realtime.counters));
    if (left != 0)
        cn_log(CN_LOG_ERROR, NULL, "realtime: %d connection counts were not given back", left);
    atomic_store(&cn__realtime.n_slots, 0);
    free(cn__realtime.hubs);
    cn__realtime.hubs = NULL;
    cn__realtime.n_hubs = 0;
    cn__rt_presence_stop();
    while (cn__realtime.presence != NULL) {
        struct presence *p = cn__realtime.presence;
        cn__realtime.presence = p->next;
        free(p);
    }
}

/* ---- metrics ---- */

long cn_realtime_connections(void)
{
    return atomic_load(&cn__rt_stats.connections);
}

static void collect(cn_buf_t *out, void *data)
{
    (void)data;
    long subs = 0;
    pthread_mutex_lock(&cn__realtime.lock);
    for (int i = 0; i < cn__realtime.n_hubs; i++)
        subs += atomic_load(&cn__realtime.hubs[i].n_subs);
    pthread_mutex_unlock(&cn__realtime.lock);
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
    const uint64_t values[] = {(uint64_t)atomic_load(&cn__rt_stats.connections),
                               (uint64_t)subs,
                               (uint64_t)atomic_load(&cn__rt_stats.events),
                               (uint64_t)atomic_load(&cn__rt_stats.deliveries),
                               (uint64_t)atomic_load(&cn__rt_stats.slow_closes),
                               (uint64_t)atomic_load(&cn__rt_stats.auth_failures)};
    _Static_assert(CN_ARRAY_SIZE(series) == CN_ARRAY_SIZE(values), "one value per series");
    cn_metrics_render_plain(out, series, values, CN_ARRAY_SIZE(series));
    cn_buf_lit(out, "# HELP cairn_realtime_refusals_total Realtime connections refused by a cap "
                    "(429 before the upgrade, or close 4429).\n"
                    "# TYPE cairn_realtime_refusals_total counter\n");
    for (int cap = CAP_PRINCIPAL; cap < CAP_COUNT; cap++)
        cn_buf_appendf(out, "cairn_realtime_refusals_total{cap=\"%s\"} %ld\n",
                       cn__rt_caps[cap].label, atomic_load(&cn__rt_stats.refusals[cap]));
    long held[CAP_COUNT];
    cn__rt_caps_held(held);
    cn_buf_lit(out, "# HELP cairn_realtime_cap_held Connections counted against each cap, summed"
                    " over principals, tenants and client addresses.\n"
                    "# TYPE cairn_realtime_cap_held gauge\n");
    for (int cap = CAP_PRINCIPAL; cap < CAP_COUNT; cap++)
        cn_buf_appendf(out, "cairn_realtime_cap_held{cap=\"%s\"} %ld\n", cn__rt_caps[cap].label,
                       held[cap]);
    cn_buf_appendf(out,
                   "# HELP cairn_realtime_queued_bytes Unsent bytes of all realtime connections"
                   " (at most realtime.max_queued_bytes_total).\n"
                   "# TYPE cairn_realtime_queued_bytes gauge\n"
                   "cairn_realtime_queued_bytes %zu\n",
                   atomic_load(&cn__realtime.queued_total));
}

/* ---- module ---- */

static int start(const cn_config_t *cfg, cn_store_t *store, cn_err_t *err)
{
    (void)store;
    cn__realtime.cfg = cfg;
    cn__realtime.heartbeat_ms = cfg->rt_heartbeat_s * 1000;
    cn__realtime.max_queue = (size_t)cfg->rt_max_queue_bytes;
    cn__realtime.max_message = (size_t)cfg->rt_max_message_bytes;
    cn__realtime.max_subs = cfg->rt_max_subscriptions;
    cn__realtime.max_connections = cfg->rt_max_connections;
    cn__realtime.max_per_tenant = cfg->rt_max_per_tenant;
    cn__realtime.max_per_principal = cfg->rt_max_per_principal;
    cn__realtime.max_anon_per_ip = cfg->rt_max_anon_per_ip;
    cn__realtime.max_queued_total = (size_t)cfg->rt_max_queued_bytes_total;
    cn_events_configure(cfg->rt_history_count, cfg->rt_history_age_s);
    cn_store_add_hook(&cn_events_hook);
    cn_events_subscribe("", on_event, NULL);
    return cn__rt_presence_start(err);
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
    {CN_GET, "/api/v1/realtime", cn__rt_get_realtime, NULL,
     .summary = "WebSocket upgrade to the realtime hub (authenticates with a header or its "
                "first message; see docs/realtime.md)",
     .success_status = 101,
     .errors = CN_ANS_400 | CN_ANS_401 | CN_ANS_403 | CN_ANS_426 | CN_ANS_503, .self_auth = 1,
     .operation = "realtime.connect"},
    {CN_GET, "/api/v1/realtime/sse", cn__rt_get_sse, "realtime.read", .query = &sse_query,
     .summary = "Server-Sent Events stream of one channel (resumes from Last-Event-ID)",
     .response_type = "text/event-stream", .errors = CN_ANS_404 | CN_ANS_503,
     .operation = "realtime.stream"},
    {CN_GET, "/api/v1/realtime/presence", cn__rt_get_presence, "realtime.read",
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
