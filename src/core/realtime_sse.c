/*
 * The hub's Server-Sent Events side: GET /api/v1/realtime/sse streams one channel as
 * event-stream records, resuming from Last-Event-ID; a client_t lives in the request's
 * pool. Once a tick the loop's streams are asked whether their peer has gone.
 */
#include "core/realtime_int.h"

#include <stdlib.h>
#include <string.h>

static void sse_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, gen, gen);
    if (c->dead)
        return;
    if (c->closing && c->out.len == 0 && c->busy) { /* the final write went out */
        cn__rt_client_free(c);
        return;
    }
    cn__rt_written(c);
}

static void sse_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, gen, gen);
    if (!c->dead)
        cn__rt_client_free(c);
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
        cn__rt_client_free(c);
    cn_buf_free(&c->out);
    cn_buf_free(&c->writing);
    cn__rt_account(c);
}

int cn__rt_get_sse(cn_req_t *r)
{
    hub_t *hub = cn__rt_this_hub;
    if (hub == NULL || !hub->bound)
        return cn_fail(r, CN_EBUSY, "the realtime hub is not running");
    json_t *ch = json_object_get(r->query, "channel");
    const char *channel = json_string_value(ch);
    if (!cn_events_channel_valid(channel))
        return cn_fail_field(r, "channel", "must be 1-100 letters, digits or ._-:");
    const char *perm = cn__rt_channel_permission(channel);
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
    c->principal = cn__rt_who_new(&r->principal);
    int rc = cn__rt_admit(r, c);
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
    cn__rt_presence_add(c->principal, 1);
    c->gen.proceed = sse_proceed;
    c->gen.stop = sse_stop;
    cn_reply_stream(r, "text/event-stream", headers, &c->gen);
    h2o_linklist_insert(&hub->clients, &c->link);
    atomic_fetch_add_explicit(&cn__rt_stats.connections, 1, memory_order_relaxed);
    cn_buf_lit(&c->out, ": cairn event stream\n\n");
    cn__rt_subscribe(c, channel, since, epoch[0] ? epoch : NULL);
    cn__rt_mark_dirty(c);
    cn__rt_flush_dirty(hub);
    return 0;
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
void cn__rt_sse_reap_gone(hub_t *hub)
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
        cn__rt_caps_release(c); /* now, not when the final write fails */
        c->closing = 1;
        cn__rt_mark_dirty(c);
    }
}
