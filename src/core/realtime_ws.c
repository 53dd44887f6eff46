/*
 * The hub's WebSocket side (RFC 6455): the upgrade of GET /api/v1/realtime (credentials
 * from a header, a same-origin cookie or the first message), reading and control frames
 * through wslay, the text frames of deliveries, close and ping. What a client says goes to
 * cn__rt_on_text (realtime.c); what it is sent comes from the client's buffer.
 */
#include "core/realtime_int.h"

#include <h2o/http1.h>

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

void cn__rt_ws_queue_close(client_t *c, uint16_t code, const char *reason)
{
    if (c->closing)
        return;
    if (code == 4401)
        atomic_fetch_add_explicit(&cn__rt_stats.auth_failures, 1, memory_order_relaxed);
    c->closing = 1;
    c->closing_ms = h2o_now(c->hub->loop);
    c->wslay_busy = 1;
    /* wslay sends control frames before queued messages: let those leave first */
    if (wslay_event_want_write(c->ws))
        wslay_event_send(c->ws);
    wslay_event_queue_close(c->ws, code, (const uint8_t *)reason, strlen(reason));
    cn__rt_mark_dirty(c);
}

/* RFC 6455 5.2: a final, unmasked text frame's header (a server never masks). */
size_t cn__rt_ws_text_header(uint8_t h[10], size_t len)
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

void cn__rt_on_ws_written(h2o_socket_t *sock, const char *err)
{
    client_t *c = sock->data;
    if (err != NULL) {
        c->dead = 1;
        cn__rt_client_free(c);
        return;
    }
    cn__rt_written(c);
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
        cn__rt_on_text(c, (const char *)arg->msg, arg->msg_length);
    else if (arg->opcode == WSLAY_BINARY_FRAME)
        cn__rt_send_error(c, "invalid_message", "messages are JSON text frames", NULL);
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv, .send_callback = ws_send, .on_msg_recv_callback = ws_on_msg};

static void on_ws_read(h2o_socket_t *sock, const char *err)
{
    client_t *c = sock->data;
    if (err != NULL) {
        cn__rt_client_free(c);
        return;
    }
    c->last_rx_ms = h2o_now(c->hub->loop);
    while (sock->input->size > 0 && wslay_event_want_read(c->ws))
        if (wslay_event_recv(c->ws) != 0) {
            cn__rt_client_free(c);
            return;
        }
    if (sock->input->size > 0) /* the peer closed, yet keeps sending: drop it */
        h2o_buffer_consume(&sock->input, sock->input->size);
    c->wslay_busy = 1; /* pongs, close replies */
    cn__rt_mark_dirty(c);
    cn__rt_flush_dirty(c->hub);
}

static void on_upgraded(void *ud, h2o_socket_t *sock, size_t reqsize)
{
    client_t *c = ud;
    if (sock == NULL) { /* the 101 could not be sent */
        c->sock = NULL;
        cn__rt_client_free(c);
        return;
    }
    c->sock = sock;
    sock->data = c;
    h2o_buffer_consume(&sock->input, reqsize);
    h2o_linklist_insert(&c->hub->clients, &c->link);
    atomic_fetch_add_explicit(&cn__rt_stats.connections, 1, memory_order_relaxed);
    if (c->principal != NULL)
        cn__rt_send_ready(c);
    h2o_socket_read_start(sock, on_ws_read);
    if (sock->input->size > 0) /* a first message sent right behind the upgrade */
        on_ws_read(sock, NULL);
    else
        cn__rt_flush_dirty(c->hub);
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

int cn__rt_get_realtime(cn_req_t *r)
{
    h2o_iovec_t key;
    hub_t *hub = cn__rt_this_hub;
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
        c->principal = cn__rt_who_new(&p);
    int rc = cn__rt_admit(r, c); /* refused before the upgrade when the caps are known */
    if (rc != 0) {
        free(c->principal);
        free(c);
        return rc;
    }
    c->hub = hub;
    c->kind = CLIENT_WS;
    c->opened_ms = c->last_rx_ms = c->last_ping_ms = h2o_now(hub->loop);
    wslay_event_context_server_init(&c->ws, &ws_callbacks, c);
    wslay_event_config_set_max_recv_msg_length(c->ws, cn__realtime.max_message);
    if (with_header)
        cn__rt_presence_add(c->principal, 1);
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

void cn__rt_ws_ping(client_t *c)
{
    struct wslay_event_msg m = {WSLAY_PING, NULL, 0};
    wslay_event_queue_msg(c->ws, &m);
    c->wslay_busy = 1;
    cn__rt_mark_dirty(c);
}
