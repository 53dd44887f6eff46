/*
 * The request pipeline and the response functions (see http.h). For every request:
 * route -> authenticate -> authorise -> parse and validate query and body -> handler.
 * Each step that fails answers problem+json through problem(); each answer, success or
 * not, is logged and counted in finish(). Nothing here blocks.
 */
#include "base/fiber.h"
#include "core/http_int.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/proxy.h"
#include "core/ratelimit.h"
#include "core/system.h"
#include "core/workers_int.h"
#include "lib/reqhead.h"

#include <netdb.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_QUERY_PARAMS 32
#define MAX_TARGET_BYTES 8192  /* request target (path + query) */
#define MAX_HEADER_BYTES 32768 /* all request header names and values together */

static struct {
    const cn_router_t *router;
    char **cors_origins;
    size_t n_cors;
    cn_auth_fn auth;
    cn_authz_fn authz;
    cn_after_write_fn after_write;
    cn_ratelimit_t *rate_ip, *rate_user, *rate_auth;
    char *bootstrap_token;
    size_t bootstrap_len;
    char bootstrap_tenant[64];
    cn_proxies_t *proxies;
} pipeline;

static int bootstrap_auth(cn_req_t *r);

int cn_auth_bootstrap(cn_req_t *r)
{
    return bootstrap_auth(r);
}

h2o_iovec_t cn_req_header(cn_req_t *r, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&r->h->headers, name, strlen(name), -1);
    return i < 0 ? h2o_iovec_init(NULL, 0) : r->h->headers.entries[i].value;
}

/* Joins every X-Forwarded-For line, in order, with commas (at most cap - 1 bytes: a cut
 * leftmost entry is not an address and simply ends the walk there). */
static size_t forwarded_for(cn_req_t *r, char *buf, size_t cap)
{
    size_t n = 0;
    for (ssize_t i = -1;
         (i = h2o_find_header(&r->h->headers, H2O_TOKEN_X_FORWARDED_FOR, i)) >= 0;) {
        h2o_iovec_t v = r->h->headers.entries[i].value;
        if (n > 0 && n < cap - 1)
            buf[n++] = ',';
        size_t take = v.len < cap - 1 - n ? v.len : cap - 1 - n;
        memcpy(buf + n, v.base, take);
        n += take;
    }
    return n;
}

/* Dotted decimal, as h2o_socket_getnumerichost writes it, without its sprintf: every
 * request asks for its peer (the per-IP limit). Returns the length; out needs 16 bytes. */
static size_t format_ipv4(const struct sockaddr_in *sin, char *out)
{
    uint32_t a = ntohl(sin->sin_addr.s_addr);
    size_t n = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
        unsigned v = (a >> shift) & 255;
        if (v >= 100)
            out[n++] = (char)('0' + v / 100);
        if (v >= 10)
            out[n++] = (char)('0' + v / 10 % 10);
        out[n++] = (char)('0' + v % 10);
        out[n++] = '.';
    }
    out[--n] = '\0';
    return n;
}

void cn_req_peer(cn_req_t *r, char *buf, size_t cap)
{
    char *ip = cn__req_int(r)->client_ip; /* 48 bytes */
    if (ip[0] == '\0') {
        struct sockaddr_storage ss;
        char host[NI_MAXHOST];
        socklen_t len = r->h->conn->callbacks->get_peername(r->h->conn, (struct sockaddr *)&ss);
        size_t n = len == 0 ? SIZE_MAX
                   : ss.ss_family == AF_INET
                       ? format_ipv4((struct sockaddr_in *)&ss, host)
                       : h2o_socket_getnumerichost((struct sockaddr *)&ss, len, host);
        if (n == SIZE_MAX)
            n = 1, host[0] = '-';
        if (n >= sizeof(cn__req_int(r)->client_ip))
            n = sizeof(cn__req_int(r)->client_ip) - 1;
        memcpy(ip, host, n); /* on every request: no printf */
        ip[n] = '\0';
        if (pipeline.proxies != NULL) {
            char xff[2048];
            size_t xl = forwarded_for(r, xff, sizeof(xff));
            if (xl > 0)
                cn_proxies_client(pipeline.proxies, host, xff, xl, ip,
                                  sizeof(cn__req_int(r)->client_ip));
        }
    }
    size_t n = strlen(ip);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, ip, n);
    buf[n] = '\0';
}
static int allow_authenticated(cn_req_t *r, const char *permission)
{
    return r->principal.authenticated ? 0 : CN_EFORBIDDEN;
}

void cn_http_set_limits(int ip_per_min, int user_per_min, int auth_per_min)
{
    pipeline.rate_ip = cn_ratelimit_new(ip_per_min);
    pipeline.rate_user = cn_ratelimit_new(user_per_min);
    pipeline.rate_auth = cn_ratelimit_new(auth_per_min);
}

void cn_http_init(const cn_router_t *router, const char *cors_origins, const char *trusted_proxies)
{
    char bad[64];
    cn_proxies_parse(trusted_proxies, &pipeline.proxies, bad,
                     sizeof(bad)); /* validated with the config */
    pipeline.router = router;
    pipeline.auth = pipeline.auth ? pipeline.auth : bootstrap_auth;
    pipeline.authz = pipeline.authz ? pipeline.authz : allow_authenticated;
    char *copy = cn_strdup(cors_origins), *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        pipeline.cors_origins =
            cn_realloc(pipeline.cors_origins, (pipeline.n_cors + 1) * sizeof(char *));
        pipeline.cors_origins[pipeline.n_cors++] = cn_strdup(tok);
    }
    free(copy);
}

void cn_http_free(void)
{
    for (size_t i = 0; i < pipeline.n_cors; i++)
        free(pipeline.cors_origins[i]);
    free(pipeline.cors_origins);
    free(pipeline.bootstrap_token);
    cn_proxies_free(pipeline.proxies);
    cn_ratelimit_free(pipeline.rate_ip);
    cn_ratelimit_free(pipeline.rate_user);
    cn_ratelimit_free(pipeline.rate_auth);
    memset(&pipeline, 0, sizeof(pipeline));
}

void cn_set_auth_hook(cn_auth_fn fn)
{
    pipeline.auth = fn;
}

void cn_set_authz_hook(cn_authz_fn fn)
{
    pipeline.authz = fn;
}

static cn_session_revoked_fn session_revoked;

void cn_set_session_revoked_hook(cn_session_revoked_fn fn)
{
    session_revoked = fn;
}

int cn_session_revoked(const char *session_id, const char *tenant_id)
{
    return session_id[0] != '\0' && session_revoked != NULL &&
           session_revoked(session_id, tenant_id);
}

void cn_set_after_write_hook(cn_after_write_fn fn)
{
    pipeline.after_write = fn;
}

void cn_auth_bootstrap_init(const char *token, const char *tenant_id)
{
    free(pipeline.bootstrap_token);
    pipeline.bootstrap_token = token && token[0] ? cn_strdup(token) : NULL;
    pipeline.bootstrap_len = pipeline.bootstrap_token ? strlen(pipeline.bootstrap_token) : 0;
    snprintf(pipeline.bootstrap_tenant, sizeof(pipeline.bootstrap_tenant), "%s", tenant_id);
}

/* ---- helpers over h2o ---- */

static h2o_iovec_t header_value(h2o_req_t *req, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    return i < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

static h2o_iovec_t header_value_str(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    return i < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

const char *cn_req_param(cn_req_t *r, const char *name)
{
    return cn_match_param(&r->match, name);
}

int cn_fail(cn_req_t *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err.msg, sizeof(r->err.msg), fmt, ap);
    va_end(ap);
    r->err.code = code;
    r->problem_type = NULL; /* the type is the last failure's, not an earlier attempt's */
    return code;
}

int cn_fail_typed(cn_req_t *r, int code, const char *slug, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err.msg, sizeof(r->err.msg), fmt, ap);
    va_end(ap);
    r->err.code = code;
    r->problem_type = slug;
    return code;
}

int cn_fail_field(cn_req_t *r, const char *field, const char *message)
{
    cn_verrors_add(&r->verrors, field, "%s", message);
    return cn_fail(r, CN_EVALIDATION, "the request has invalid fields");
}

void cn_reply_header(cn_req_t *r, const char *name, const char *value, size_t len)
{
    h2o_add_header_by_str(&r->h->pool, &r->h->res.headers, name, strlen(name), 1, NULL,
                          h2o_strdup(&r->h->pool, value, len).base, len);
}

static const char *reason(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return status < 500 ? "Error" : "Internal Server Error";
    }
}

static const char *problem_slug(int status)
{
    switch (status) {
    case 400: return "bad-request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not-found";
    case 405: return "method-not-allowed";
    case 409: return "conflict";
    case 413: return "body-too-large";
    case 414: return "uri-too-long";
    case 415: return "unsupported-media-type";
    case 417: return "expectation-failed";
    case 422: return "validation-failed";
    case 426: return "upgrade-required";
    case 429: return "rate-limited";
    case 431: return "headers-too-large";
    case 503: return "unavailable";
    default: return "internal";
    }
}

int cn_status_for(int code)
{
    switch (code) {
    case CN_EINVAL: return 400;
    case CN_EVALIDATION: return 422;
    case CN_ENOTFOUND: return 404;
    case CN_ECONFLICT: return 409;
    case CN_EUNAUTH: return 401;
    case CN_EFORBIDDEN: return 403;
    case CN_EBUSY: return 503;
    case CN_EUNSUPPORTED: return 415;
    case CN_ERATELIMIT: return 429;
    case CN_EUPGRADE: return 426;
    default: return 500;
    }
}

static int origin_allowed(h2o_iovec_t origin)
{
    for (size_t i = 0; i < pipeline.n_cors; i++)
        if (strlen(pipeline.cors_origins[i]) == origin.len &&
            memcmp(pipeline.cors_origins[i], origin.base, origin.len) == 0)
            return 1;
    return 0;
}

static void add_common_headers(cn_req_t *r)
{
    h2o_req_t *req = r->h;
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL,
                          r->request_id, strlen(r->request_id));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0,
                          NULL, H2O_STRLIT("nosniff"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("referrer-policy"), 0, NULL,
                          H2O_STRLIT("no-referrer"));
    if (req->scheme == &H2O_URL_SCHEME_HTTPS) /* browsers must not downgrade later visits */
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_STRICT_TRANSPORT_SECURITY, NULL,
                       H2O_STRLIT("max-age=31536000; includeSubDomains"));
    /* no CORS origins configured (the default): no Origin can be allowed, skip the scan */
    h2o_iovec_t origin =
        pipeline.n_cors ? header_value_str(req, "origin") : h2o_iovec_init(NULL, 0);
    if (origin.len && origin_allowed(origin)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL,
                       origin.base, origin.len);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
        h2o_add_header_by_str(&req->pool, &req->res.headers,
                              H2O_STRLIT("access-control-expose-headers"), 0, NULL,
                              H2O_STRLIT("X-Request-Id, Location, Allow"));
    }
}

static void finish(cn_req_t *r, int status, size_t bytes)
{
    uint64_t dur = cn_now_ns() - cn__req_int(r)->start_ns;
    cn_metrics_request(cn__req_int(r)->route_index, r->method, status, dur);
    size_t path_len =
        r->h->input.query_at != SIZE_MAX ? r->h->input.query_at : r->h->input.path.len;
    cn_access_t a = {
        .request_id = r->request_id,
        .method = cn_method_name(r->method),
        .route = r->route ? r->route->path : "-",
        .path = r->h->input.path.base,
        .path_len = path_len,
        .status = status,
        .duration_us = dur / 1000,
        .bytes = bytes,
    };
    cn_log_access(&a);
}

/* Answers held back until this loop turn's batch transaction commits (see store.h). */
static _Thread_local h2o_linklist_t pending_answers;

/*
 * The unit of work of the handler (or completion) running now on this loop: its writes are
 * kept in the batch if it answers with a success, and rolled back otherwise, with what it
 * staged (see unit_open). Handlers never nest, so one per thread.
 */
typedef struct {
    cn_req_t *req;     /* whose handler or completion runs; NULL between them */
    cn_store_t *store; /* its loop's */
    int status;        /* of its answer, 0 until it answered */
    int held;          /* that answer waits for the batch's commit: req lives until then */
} unit_t;
static _Thread_local unit_t unit;

static int may_write(cn_method_t m);

/* The answer of the request whose unit is open: the after-write hook (the audit entry)
 * joins the unit. If the hook fails, the answer becomes a 500 and the unit rolls back.
 * Returns 1 when it answered instead. */
static int note_answer(cn_req_t *r, int status)
{
    unit.status = status;
    if (status >= 400 || pipeline.after_write == NULL || !may_write(r->method) ||
        r->route == NULL || r->route->no_write || pipeline.after_write(r) == 0)
        return 0;
    cn__req_int(r)->responded = 0;
    memset(&r->h->res.headers, 0, sizeof(r->h->res.headers));
    cn_reply_problem(r, CN_ERR, "the change could not be recorded in the audit log");
    return 1;
}

static void start_sending(cn_req_t *r)
{
    static h2o_generator_t generator = {NULL, NULL};
    h2o_iovec_t buf = r->h->res.content_length && r->method != CN_HEAD
                          ? cn__req_int(r)->pending_body
                          : h2o_iovec_init(NULL, 0);
    finish(r, r->h->res.status, buf.len);
    if (r->h->conn->ctx->shutdown_requested) /* draining: this is the connection's last answer */
        r->h->http1_is_persistent = 0;
    h2o_start_response(r->h, &generator);
    h2o_send(r->h, &buf, buf.len ? 1 : 0, H2O_SEND_STATE_FINAL);
}

/* For every web page (HTML) and every answer of a page route (the console's files and
 * its errors): our own scripts, styles, images, fonts and connections (WebSockets to this
 * origin included) only; no inline code, no plugins, no framing, no foreign form targets. */
static const char page_csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; font-src 'self'; connect-src 'self'; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'";

static int is_page(const cn_req_t *r, const char *ctype)
{
    return (r->route != NULL && r->route->page) ||
           (ctype != NULL && strncmp(ctype, "text/html", 9) == 0);
}

/* copy: body is copied into the request's pool; else it is static and sent as it is */
static int send_body_as(cn_req_t *r, int status, const char *ctype, const char *body, size_t len,
                        int copy)
{
    h2o_req_t *req = r->h;
    cn_req_int_t *ri = cn__req_int(r);
    if (ri->responded)
        return 0;
    ri->responded = 1;
    req->res.status = status;
    req->res.reason = reason(status);
    if (ctype != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype,
                       strlen(ctype));
    if (is_page(r, ctype))
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"),
                              0, NULL, page_csp, sizeof(page_csp) - 1);
    add_common_headers(r);
    /* a 304 has no body, and a Content-Length there would have to be the 200's (RFC 9110
     * section 8.6): h2o writes none for an unknown length */
    req->res.content_length = status == 304 ? SIZE_MAX : len;
    ri->pending_body = h2o_iovec_init(NULL, 0);
    if (len && r->method != CN_HEAD && !copy) {
        ri->pending_body = h2o_iovec_init(body, len);
    } else if (len && r->method != CN_HEAD) {
        ri->pending_body.base = h2o_mem_alloc_pool(&req->pool, len);
        memcpy(ri->pending_body.base, body, len);
        ri->pending_body.len = len;
    }
    if (unit.req == r && note_answer(r, status))
        return 0;
    if (r->store != NULL && cn_store_batch_open(r->store)) {
        if (pending_answers.next == NULL)
            h2o_linklist_init_anchor(&pending_answers);
        h2o_linklist_insert(&pending_answers, &ri->pending);
        unit.held |= unit.req == r;
        return 0;
    }
    start_sending(r);
    return 0;
}

static int send_body(cn_req_t *r, int status, const char *ctype, const char *body, size_t len)
{
    return send_body_as(r, status, ctype, body, len, 1);
}

static _Thread_local cn_buf_t out_buf;

/*
 * Read requests on a store whose reads may suspend (cn_store_suspends) run on fibers: a
 * handler's read sends its statement and suspends, the loop goes on with the next request,
 * and the end of the turn resumes each handler with its result (cn_http_end_turn). What a
 * suspended handler keeps in this thread's state is put aside meanwhile: its unit of work
 * and the buffer it builds its answer in.
 */
typedef struct st_fiber_state_t {
    struct st_fiber_state_t *next_free;
    cn_req_t *req;
    unit_t unit;
    cn_store_unit_state_t store_unit;
    cn_buf_t buf;
} fiber_state_t;

static _Thread_local fiber_state_t *running_fiber; /* the handler's, while it runs */
static _Thread_local fiber_state_t *free_fiber_states;

static cn_buf_t *reply_buf(void)
{
    return running_fiber ? &running_fiber->buf : &out_buf;
}

int cn_reply_json(cn_req_t *r, int status, json_t *json)
{
    out_buf.len = 0;
    cn_json_dump(json, &out_buf);
    json_decref(json);
    return send_body(r, status, "application/json", out_buf.data, out_buf.len);
}

void cn_http_thread_exit(void)
{
    cn_buf_free(&out_buf);
    while (free_fiber_states) {
        fiber_state_t *fs = free_fiber_states;
        free_fiber_states = fs->next_free;
        cn_buf_free(&fs->buf);
        free(fs);
    }
    cn_fiber_thread_exit();
    cn_system_thread_exit();
}

cn_buf_t *cn_reply_buffer(cn_req_t *r)
{
    cn_buf_t *b = reply_buf();
    b->len = 0;
    return b;
}

int cn_reply_json_buf(cn_req_t *r, int status)
{
    cn_buf_t *b = reply_buf();
    return send_body(r, status, "application/json", b->data, b->len);
}

int cn_reply_raw(cn_req_t *r, int status, const char *content_type, const char *body, size_t len)
{
    return send_body(r, status, content_type, body, len);
}

int cn_reply_static(cn_req_t *r, int status, const char *content_type, const char *body, size_t len)
{
    return send_body_as(r, status, content_type, body, len, 0);
}

int cn_reply_empty(cn_req_t *r, int status)
{
    return send_body(r, status, NULL, NULL, 0);
}

/* The RFC 9457 members every problem has; shared with h2o's own errors (the filter below). */
static json_t *problem_json(int status, const char *detail, const char *request_id)
{
    char type[64];
    snprintf(type, sizeof(type), "urn:cairn:problem:%s", problem_slug(status));
    json_t *p = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title", reason(status),
                          "status", status, "detail", detail, "request_id", request_id);
    if (p == NULL) /* detail was not valid UTF-8: never echo such bytes */
        p = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title", reason(status), "status",
                      status, "detail", reason(status), "request_id", request_id);
    return p;
}

static int problem(cn_req_t *r, int status, const char *detail)
{
    json_t *p = problem_json(status, detail, r->request_id);
    if (r->problem_type != NULL && status != 500) {
        char type[96];
        snprintf(type, sizeof(type), "urn:cairn:problem:%s", r->problem_type);
        json_object_set_new(p, "type", json_string(type));
    }
    if (r->verrors.count) {
        json_t *errs = json_array();
        for (size_t i = 0; i < r->verrors.count; i++)
            json_array_append_new(errs, json_pack("{s:s, s:s}", "field", r->verrors.items[i].field,
                                                  "message", r->verrors.items[i].message));
        json_object_set_new(p, "errors", errs);
        if (r->verrors.dropped)
            json_object_set_new(p, "errors_truncated",
                                json_integer((json_int_t)r->verrors.dropped));
    }
    if (status == 401)
        cn_reply_header(r, "www-authenticate", H2O_STRLIT("Bearer realm=\"cairn\""));
    if (status == 503) /* busy or a lost database connection: nothing was applied */
        cn_reply_header(r, "retry-after", H2O_STRLIT("1"));
    out_buf.len = 0;
    cn_json_dump(p, &out_buf);
    json_decref(p);
    return send_body(r, status, "application/problem+json", out_buf.data, out_buf.len);
}

int cn_reply_problem(cn_req_t *r, int code, const char *detail)
{
    int status = cn_status_for(code);
    if (status == 500) {
        cn_log(CN_LOG_ERROR, r->request_id, "%s %s failed: %s", cn_method_name(r->method),
               r->route ? r->route->path : "-", detail);
        detail = "an internal error occurred; the request id identifies it in the server log";
    }
    return problem(r, status, detail);
}

/* ---- request pipeline ----
 * Each step returns CN_NEXT when the request goes on to the next step, or CN_OK once it
 * has answered the request itself (a problem, a preflight): then the pipeline stops. */

static void set_request_id(cn_req_t *r)
{
    h2o_iovec_t v = header_value_str(r->h, "x-request-id");
    int ok = v.len > 0 && v.len < sizeof(r->request_id);
    for (size_t i = 0; ok && i < v.len; i++) {
        char c = v.base[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_' || c == '.' || c == ':';
    }
    if (ok) {
        memcpy(r->request_id, v.base, v.len);
        r->request_id[v.len] = '\0';
    } else {
        cn_uuid7(r->request_id);
    }
}

static int bootstrap_auth(cn_req_t *r)
{
    h2o_iovec_t v = header_value(r->h, H2O_TOKEN_AUTHORIZATION);
    if (v.len == 0)
        return cn_fail(r, CN_EUNAUTH, "this endpoint needs an Authorization: Bearer token");
    if (pipeline.bootstrap_token == NULL)
        return cn_fail(r, CN_EUNAUTH,
                       "no credentials are accepted: CAIRN_BOOTSTRAP_TOKEN is unset");
    if (v.len < 7 || strncasecmp(v.base, "Bearer ", 7) != 0)
        return cn_fail(r, CN_EUNAUTH, "the Authorization header must use the Bearer scheme");
    const char *tok = v.base + 7;
    size_t len = v.len - 7;
    /* constant time over the expected length; the length itself is not secret */
    if (len != pipeline.bootstrap_len || sodium_memcmp(tok, pipeline.bootstrap_token, len) != 0)
        return cn_fail_typed(r, CN_EUNAUTH, "token-invalid", "the bearer token is not valid");
    _Static_assert(sizeof(pipeline.bootstrap_tenant) == sizeof(r->principal.tenant_id),
                   "the bootstrap tenant is copied whole");
    memcpy(r->principal.tenant_id, pipeline.bootstrap_tenant, sizeof(r->principal.tenant_id));
    memcpy(r->principal.subject, "bootstrap", sizeof("bootstrap"));
    r->principal.is_operator = 1;
    r->principal.authenticated = 1;
    return 0;
}

/* a, b and c joined into out (cap bytes), cut to fit as snprintf("%s%s%s") would */
static void join3(char *out, size_t cap, const char *a, const char *b, const char *c)
{
    const char *parts[3] = {a, b, c};
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(parts[i]);
        if (len > cap - 1 - n)
            len = cap - 1 - n;
        memcpy(out + n, parts[i], len);
        n += len;
    }
    out[n] = '\0';
}

/* Takes a token from limiter for key; on refusal answers 429 with the RateLimit headers. */
static int within_limit(cn_req_t *r, cn_ratelimit_t *limiter, const char *kind, const char *id)
{
    if (limiter == NULL)
        return CN_NEXT;
    char key[192];
    join3(key, sizeof(key), kind, ":", id); /* no printf: every request runs this */
    cn_rate_result_t res;
    cn_ratelimit_take(limiter, key, cn_now_ms(), &res);
    if (res.allowed)
        return CN_NEXT;
    char v[3][16];
    int n[3];
    n[0] = snprintf(v[0], sizeof(v[0]), "%d", res.limit);
    n[1] = snprintf(v[1], sizeof(v[1]), "%d", res.remaining);
    n[2] = snprintf(v[2], sizeof(v[2]), "%d", res.reset_s);
    cn_reply_header(r, "ratelimit-limit", v[0], (size_t)n[0]);
    cn_reply_header(r, "ratelimit-remaining", v[1], (size_t)n[1]);
    cn_reply_header(r, "ratelimit-reset", v[2], (size_t)n[2]);
    n[0] = snprintf(v[0], sizeof(v[0]), "%d", res.retry_after_s);
    cn_reply_header(r, "retry-after", v[0], (size_t)n[0]);
    char detail[96];
    snprintf(detail, sizeof(detail), "too many requests (%s limit: %d per minute)", kind,
             res.limit);
    return problem(r, 429, detail);
}

static int check_ip_limit(cn_req_t *r)
{
    char ip[64];
    cn_req_peer(r, ip, sizeof(ip));
    if (within_limit(r, pipeline.rate_ip, "ip", ip) != CN_NEXT)
        return CN_OK;
    return r->route == NULL || !r->route->rate_auth
               ? CN_NEXT
               : within_limit(r, pipeline.rate_auth, "sign-in", ip);
}

static int answer_options(cn_req_t *r, unsigned allow_mask)
{
    char allow[96];
    size_t n = cn_allow_header(allow_mask, allow, sizeof(allow));
    h2o_iovec_t origin = header_value_str(r->h, "origin");
    h2o_iovec_t want = header_value_str(r->h, "access-control-request-method");
    if (origin.len && want.len) { /* CORS preflight */
        if (!origin_allowed(origin))
            return problem(r, 403, "this origin is not allowed (server.cors_origins)");
        cn_reply_header(r, "access-control-allow-methods", allow, n);
        cn_reply_header(r, "access-control-allow-headers",
                        H2O_STRLIT("Authorization, Content-Type, X-Request-Id, Idempotency-Key"));
        cn_reply_header(r, "access-control-max-age", H2O_STRLIT("600"));
    }
    cn_reply_header(r, "allow", allow, n);
    return cn_reply_empty(r, 204);
}

/* Refuses a request whose end two HTTP parsers could place differently and closes its
 * connection, so the bytes after it are never read as a request (RFC 9112 section 6.3). */
static int refuse_framing(cn_req_t *r, const char *detail)
{
    r->h->http1_is_persistent = 0;
    return problem(r, 400, detail);
}

/*
 * h2o frames an HTTP/1 body by the first Content-Length or the last Transfer-Encoding
 * line and keeps neither in req->headers, so a second Content-Length, or one beside a
 * Transfer-Encoding, would go unseen while a proxy in front might frame the body by
 * the other line; of several Host lines it keeps the last, where another server may take
 * the first (RFC 9112 section 3.2 asks for a 400). The raw head is still at the start of
 * the connection's input buffer (h2o consumes it only once the answer is sent). The scan
 * splits lines and compares names, well under a microsecond for a usual head.
 */
static int check_framing(cn_req_t *r)
{
    h2o_req_t *req = r->h;
    if (req->version >= 0x200)
        return CN_NEXT;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    cn_reqhead_t head;
    if (sock == NULL || cn_reqhead_scan(sock->input->bytes, sock->input->size, &head) != 0)
        return refuse_framing(r, "the request head could not be checked");
    if (head.content_length + head.transfer_encoding > 1) {
        char detail[160];
        snprintf(detail, sizeof(detail),
                 "ambiguous request length: %u Content-Length and %u Transfer-Encoding header "
                 "lines; send exactly one",
                 head.content_length, head.transfer_encoding);
        return refuse_framing(r, detail);
    }
    if (head.host > 1)
        return refuse_framing(r, "more than one Host header line; send exactly one");
    return CN_NEXT;
}

/* h2o 2.2 buffers up to ~400 KB of request head; refuse anything beyond sane sizes. */
static int check_sizes(cn_req_t *r)
{
    h2o_req_t *req = r->h;
    if (req->input.path.len > MAX_TARGET_BYTES)
        return problem(r, 414, "the request target is longer than 8192 bytes");
    size_t total = 0;
    for (size_t i = 0; i < req->headers.size; i++) {
        if (req->headers.entries[i].name->len == 0) /* h2o keeps a folded line nameless */
            return refuse_framing(r, "a header line continues the previous one (obs-fold); "
                                     "send each header on one line");
        total += req->headers.entries[i].name->len + req->headers.entries[i].value.len;
    }
    if (total > MAX_HEADER_BYTES)
        return problem(r, 431, "the request headers are larger than 32768 bytes");
    /* h2o puts its default host in place of a missing Host (RFC 9112 section 3.2) */
    if (req->version == 0x101 && req->hostconf != NULL &&
        req->input.authority.base == req->hostconf->authority.hostport.base)
        return problem(r, 400, "an HTTP/1.1 request needs a Host header");
    return check_framing(r);
}

/* 1 when the path holds the escape of a NUL byte, which no id or name may contain. */
static int has_nul_escape(const char *p, size_t len)
{
    for (size_t i = 0; i + 2 < len; i++)
        if (p[i] == '%' && p[i + 1] == '0' && p[i + 2] == '0')
            return 1;
    return 0;
}

static int route_request(cn_req_t *r)
{
    h2o_req_t *req = r->h;
    size_t path_len = req->input.query_at != SIZE_MAX ? req->input.query_at : req->input.path.len;
    char *scratch = h2o_mem_alloc_pool(&req->pool, path_len + 1);
    int rc = cn_router_match(pipeline.router, r->method, req->input.path.base, path_len, scratch,
                             &r->match);
    if (rc == CN_EINVAL && has_nul_escape(req->input.path.base, path_len))
        return problem(r, 400, "a NUL byte (%00) is not allowed in a path");
    if (rc == CN_EINVAL)
        return problem(r, 400, "the path has a malformed percent-escape");
    if (rc != 0) {
        if (r->match.allow_mask == 0)
            return problem(r, 404, "no endpoint at this path");
        r->route = r->match.other; /* the path's: its page headers, the access log's route */
        if (r->method == CN_OPTIONS)
            return answer_options(r, r->match.allow_mask);
        char allow[96];
        size_t n = cn_allow_header(r->match.allow_mask, allow, sizeof(allow));
        cn_reply_header(r, "allow", allow, n);
        char detail[160];
        snprintf(detail, sizeof(detail), "%s is not allowed here; allowed: %s",
                 cn_method_name(r->method), allow);
        return problem(r, 405, detail);
    }
    r->route = r->match.route;
    cn__req_int(r)->route_index = r->match.route_index;
    return CN_NEXT;
}

static int check_path_params(cn_req_t *r)
{
    if (r->route->params == NULL)
        return CN_NEXT;
    for (size_t i = 0; i < r->match.n_params; i++) {
        const cn_param_t *p = &r->match.params[i];
        size_t name_len = p->name_len;
        if (cn_schema_check_string(r->route->params, p->name, name_len, p->value, p->value_len))
            return problem(r, 404, "no resource at this path");
    }
    return CN_NEXT;
}

static int parse_query(cn_req_t *r)
{
    /* a page's query string is its script's (the console's filters, a mailed link's token):
     * the server reads nothing of it, so it is neither parsed nor refused */
    if (r->route->page)
        return CN_NEXT;
    h2o_req_t *req = r->h;
    cn_kv_t kv[MAX_QUERY_PARAMS];
    int n = 0;
    if (req->input.query_at != SIZE_MAX) {
        size_t qlen = req->input.path.len - req->input.query_at - 1;
        const char *qs = req->input.path.base + req->input.query_at + 1;
        char *scratch = h2o_mem_alloc_pool(&req->pool, qlen + 1);
        n = cn_query_parse(qs, qlen, scratch, kv, MAX_QUERY_PARAMS, &r->err);
        if (n < 0)
            return problem(r, 400, r->err.msg);
    }
    if (n == 0 && r->route->query == NULL)
        return CN_NEXT; /* nothing to convert: r->query stays NULL, which reads as empty */
    if (cn_schema_from_query(r->route->query, kv, (size_t)n, &r->query, &r->verrors) != 0)
        return problem(r, 422, "the query string has invalid parameters");
    return CN_NEXT;
}

static int is_json_type(h2o_iovec_t ct)
{
    size_t n = 0;
    while (n < ct.len && ct.base[n] != ';' && ct.base[n] != ' ')
        n++;
    int json = (n == 16 && strncasecmp(ct.base, "application/json", 16) == 0) ||
               (n > 17 && strncasecmp(ct.base, "application/", 12) == 0 &&
                strncasecmp(ct.base + n - 5, "+json", 5) == 0);
    if (!json)
        return 0;
    /* a declared charset must be UTF-8 (RFC 8259 allows nothing else) */
    for (size_t i = n; i + 8 <= ct.len; i++)
        if (strncasecmp(ct.base + i, "charset=", 8) == 0)
            return ct.len - i - 8 == 5 ? strncasecmp(ct.base + i + 8, "utf-8", 5) == 0 : 0;
    return 1;
}

/* the media type of ct (before parameters) is exactly type, case-insensitively */
static int is_media_type(h2o_iovec_t ct, const char *type)
{
    size_t n = 0, k = strlen(type);
    if (ct.base == NULL)
        return 0;
    while (n < ct.len && ct.base[n] != ';' && ct.base[n] != ' ')
        n++;
    return n == k && strncasecmp(ct.base, type, k) == 0;
}

static int parse_body(cn_req_t *r)
{
    h2o_req_t *req = r->h;
    int has_body = req->entity.base != NULL && req->entity.len > 0;
    if (r->route->raw_body != NULL) {
        if (!has_body)
            return problem(r, 400, "a request body is required");
        if (!is_media_type(header_value(req, H2O_TOKEN_CONTENT_TYPE), r->route->raw_body)) {
            char msg[128];
            snprintf(msg, sizeof(msg), "the request body must be sent as Content-Type: %s",
                     r->route->raw_body);
            return problem(r, 415, msg);
        }
        return CN_NEXT;
    }
    if (r->route->body == NULL) {
        if (has_body)
            return problem(r, 400, "this endpoint takes no request body");
        return CN_NEXT;
    }
    if (!has_body && r->route->body_optional)
        return CN_NEXT;
    if (!has_body)
        return problem(r, 400, "a JSON request body is required");
    if (!is_json_type(header_value(req, H2O_TOKEN_CONTENT_TYPE)))
        return problem(r, 415, "the request body must be sent as Content-Type: application/json");
    cn_err_t err;
    r->body = cn_json_parse(req->entity.base, req->entity.len, &err);
    if (r->body == NULL)
        return problem(r, 400, err.msg);
    if (cn_schema_validate(r->route->body, r->body, &r->verrors) != 0)
        return problem(r, 422, "the request body has invalid fields");
    return CN_NEXT;
}

static void dispose_req(void *p)
{
    cn_req_int_t *ri = p;
    cn_req_t *r = &ri->pub;
    if (ri->work != NULL) /* the client left while a worker was busy for it */
        cn_work_detach(ri->work);
    if (h2o_linklist_is_linked(&ri->pending)) /* connection gone before its turn ended */
        h2o_linklist_unlink(&ri->pending);
    json_decref(r->query);
    json_decref(r->body);
}

static int authenticate(cn_req_t *r)
{
    if (r->route->permission == NULL)
        return CN_NEXT;
    int rc = pipeline.auth(r);
    if (rc != 0) /* a refused CSRF check is 403; everything else is "who are you?" */
        return problem(r, rc == CN_EFORBIDDEN ? 403 : 401, r->err.msg);
    char who[160];
    join3(who, sizeof(who), r->principal.tenant_id, "/", r->principal.subject);
    if (within_limit(r, pipeline.rate_user, "user", who) != CN_NEXT)
        return CN_OK;
    if (pipeline.authz(r, r->route->permission) != 0) {
        char detail[160];
        snprintf(detail, sizeof(detail), "this needs the permission %s", r->route->permission);
        return problem(r, 403, r->err.msg[0] ? r->err.msg : detail);
    }
    return CN_NEXT;
}

int cn_req_authenticate(cn_req_t *r)
{
    return pipeline.auth(r);
}

int cn_req_allowed(cn_req_t *r, const char *permission)
{
    return pipeline.authz(r, permission);
}

/* Runs the authentication or the permission hook on a request made up for the purpose:
 * one code path decides who a token belongs to, whether it came in a header or not. */
static int outside_request(cn_store_t *s, const char *token, size_t len, cn_principal_t *p,
                           const char *permission, cn_err_t *err)
{
    h2o_req_t req;
    memset(&req, 0, sizeof(req));
    h2o_mem_init_pool(&req.pool);
    cn_req_int_t ri; /* the hooks may use what the pipeline keeps (the client address) */
    memset(&ri, 0, sizeof(ri));
    cn_req_t *r = &ri.pub;
    r->h = &req;
    r->store = s;
    r->method = CN_GET;
    int rc;
    if (permission == NULL) {
        char *v = h2o_mem_alloc_pool(&req.pool, len + 7);
        memcpy(v, "Bearer ", 7);
        memcpy(v + 7, token, len);
        h2o_add_header(&req.pool, &req.headers, H2O_TOKEN_AUTHORIZATION, NULL, v, len + 7);
        if ((rc = pipeline.auth(r)) == 0)
            *p = r->principal;
    } else {
        r->principal = *p;
        rc = pipeline.authz(r, permission);
    }
    if (rc != 0 && err != NULL)
        cn_err_set(err, rc, "%s", r->err.msg[0] ? r->err.msg : "not allowed");
    h2o_mem_clear_pool(&req.pool);
    return rc;
}

int cn_token_authenticate(cn_store_t *s, const char *token, size_t len, cn_principal_t *p,
                          cn_err_t *err)
{
    if (len == 0 || len > 4096)
        return cn_err_set(err, CN_EUNAUTH, "the token is missing or too long");
    return outside_request(s, token, len, p, NULL, err);
}

int cn_principal_allowed(cn_store_t *s, const cn_principal_t *p, const char *permission,
                         cn_err_t *err)
{
    if (permission == NULL) /* outside_request would read that as "authenticate a token" */
        return cn_err_set(err, CN_EFORBIDDEN, "no permission named");
    return outside_request(s, NULL, 0, (cn_principal_t *)p, permission, err);
}

void cn_req_takeover(cn_req_t *r, int status)
{
    if (unit.req == r)
        unit.status = status;
    cn__req_int(r)->responded = 1;
    r->h->res.status = status;
    r->h->res.reason = reason(status);
    add_common_headers(r);
    finish(r, status, 0);
}

int cn_reply_stream(cn_req_t *r, const char *content_type, const char *const *headers,
                    h2o_generator_t *gen)
{
    static h2o_generator_t headers_only = {NULL, NULL}; /* finished at once: never called */
    h2o_req_t *req = r->h;
    cn_req_takeover(r, 200);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    for (size_t i = 0; headers && headers[i]; i += 2)
        h2o_add_header_by_str(&req->pool, &req->res.headers, headers[i], strlen(headers[i]), 0,
                              NULL, headers[i + 1], strlen(headers[i + 1]));
    if (r->method == CN_HEAD) { /* a body after these headers would desynchronise the client */
        h2o_start_response(req, &headers_only);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return 0;
    }
    h2o_start_response(req, gen);
    return CN_STREAMING;
}

static void answer_failure(cn_req_t *r, int rc)
{
    if (cn_store_in_txn(r->store)) /* a handler must not leave a unit of work open */
        cn_store_rollback(r->store);
    /* headers meant for a success (Location, ...) must not ride on the error; Retry-After
     * is the one header an error itself needs */
    if (rc != CN_ERATELIMIT)
        memset(&r->h->res.headers, 0, sizeof(r->h->res.headers));
    cn_reply_problem(r, rc, r->err.msg[0] ? r->err.msg : "request failed");
}

void cn_req_finish_error(cn_req_t *r, int code)
{
    if (!cn__req_int(r)->responded)
        answer_failure(r, code);
}

/* Opens the unit of work of r's handler or completion; 0 if one is open already (then
 * that one covers r too). */
static int unit_open(cn_req_t *r)
{
    if (unit.req != NULL)
        return 0;
    unit.req = r;
    unit.store = r->store;
    unit.status = unit.held = 0;
    cn_store_unit_begin(r->store);
    return 1;
}

/* Turns an answer already given (a success, held for the batch) into the error for rc, or
 * into a 503 when the unit could not be released (rc == 0). */
static void retract(cn_req_t *r, int rc)
{
    if (h2o_linklist_is_linked(&cn__req_int(r)->pending))
        h2o_linklist_unlink(&cn__req_int(r)->pending);
    cn__req_int(r)->responded = 0;
    if (rc != 0) {
        answer_failure(r, rc);
        return;
    }
    memset(&r->h->res.headers, 0, sizeof(r->h->res.headers));
    problem(r, 503, "the change could not be committed; it was not applied, retry");
}

/*
 * Ends the unit by the outcome: kept when the handler returned 0 (rc) and answered with a
 * success, else rolled back. A success answered for writes that could not be kept becomes
 * an error if that answer is still held for the batch (then the request still lives; an
 * answer already sent, or a stream, can only be logged).
 */
static void unit_close(int rc)
{
    cn_req_t *r = unit.req;
    int keep = rc == 0 && unit.status > 0 && unit.status < 400;
    cn_err_t err; /* not "= {0}": 516 bytes cleared on every request */
    err.code = 0;
    err.msg[0] = '\0';
    int erc = cn_store_unit_end(unit.store, keep, &err);
    int lied = rc != CN_PENDING && unit.status > 0 && unit.status < 400 && (erc != 0 || !keep);
    int held = unit.held;
    unit.req = NULL;
    if (!lied)
        return;
    cn_log(CN_LOG_ERROR, held ? r->request_id : NULL,
           "a request answered %d but its changes were rolled back: %s", unit.status,
           erc != 0 ? err.msg : "its handler failed after answering");
    if (held && h2o_linklist_is_linked(&cn__req_int(r)->pending))
        retract(r, erc != 0 ? 0 : rc);
}

void cn__http_complete(cn_req_t *r, void (*done)(cn_req_t *, void *), void *arg)
{
    int own = unit_open(r);
    done(r, arg);
    if (own)
        unit_close(0); /* r may be gone by now, unless its answer is held */
}

/* The route's prepare step, outside any transaction: CN_NEXT to go on, CN_OK when it
 * answered. */
static int prepare(cn_req_t *r)
{
    if (r->route->prepare == NULL)
        return CN_NEXT;
    int rc = r->route->prepare(r);
    if (rc != 0 && !cn__req_int(r)->responded)
        answer_failure(r, rc);
    return rc == 0 && !cn__req_int(r)->responded ? CN_NEXT : CN_OK;
}

/*
 * Writes whose handler met a busy database (a deadlock, a lock timeout, a lost connection:
 * CN_EBUSY) before answering, and whose unit kept nothing, run again in the next turn's
 * batch, at most WRITE_RETRIES times: by then this turn's batch has committed or rolled
 * back and released what the write waited for (retrying inside the same batch would meet
 * the same locks). Their unit is rolled back first, so a retry starts from nothing.
 */
#define WRITE_RETRIES 3
static _Thread_local h2o_linklist_t retry_writes;

static int may_write(cn_method_t m);

/* Queues r's handler to run again in the next turn, from nothing. */
static void run_again(cn_req_t *r)
{
    cn_req_int_t *ri = cn__req_int(r);
    ri->responded = 0;
    r->err.code = 0;
    r->err.msg[0] = '\0';
    r->problem_type = NULL;
    r->verrors.count = 0;
    memset(&r->h->res.headers, 0, sizeof(r->h->res.headers));
    if (retry_writes.next == NULL)
        h2o_linklist_init_anchor(&retry_writes);
    h2o_linklist_insert(&retry_writes, &ri->pending);
}

static int retry_later(cn_req_t *r, int rc)
{
    cn_req_int_t *ri = cn__req_int(r);
    if (rc != CN_EBUSY || ri->responded || ri->retries >= WRITE_RETRIES || !may_write(r->method) ||
        !cn_store_is_batching(r->store) || cn_store_unit_kept(r->store))
        return 0;
    ri->retries++;
    run_again(r);
    return 1;
}

static void run_handler(cn_req_t *r)
{
    int own = unit_open(r);
    int rc = r->route->handler(r);
    if (rc == CN_PENDING) { /* offloaded: the completion answers, in a unit of its own */
        cn__req_int(r)->in_turn_writes = 0; /* and cannot run again */
        if (own)
            unit_close(rc);
        return;
    }
    if (own && rc == CN_EBUSY && retry_later(r, rc)) {
        unit_close(rc); /* rolled back: the retry starts from nothing */
        return;
    }
    if (rc != 0 && !cn__req_int(r)->responded)
        answer_failure(r, rc);
    else if (!cn__req_int(r)->responded)
        cn_reply_problem(r, CN_ERR, "handler returned without answering");
    if (own)
        unit_close(rc);
}

/*
 * Requests that may write (POST, PUT, PATCH, DELETE) wait here until the end of the loop
 * turn and then run back to back inside one transaction (see cn_http_end_turn), so the
 * process-wide write lock is held only while writes actually run.
 */
static _Thread_local h2o_linklist_t queued_writes;

static int may_write(cn_method_t m)
{
    return m == CN_POST || m == CN_PUT || m == CN_PATCH || m == CN_DELETE;
}

/* A request through the pipeline's checks, then its handler now, or queued for the turn's
 * batch when it may write. */
static void handle(cn_req_t *r)
{
    if (check_sizes(r) == CN_NEXT && route_request(r) == CN_NEXT && check_ip_limit(r) == CN_NEXT &&
        check_path_params(r) == CN_NEXT && authenticate(r) == CN_NEXT &&
        parse_query(r) == CN_NEXT && parse_body(r) == CN_NEXT && prepare(r) == CN_NEXT) {
        if (may_write(r->method) && !r->route->no_write && cn_store_is_batching(r->store)) {
            if (queued_writes.next == NULL)
                h2o_linklist_init_anchor(&queued_writes);
            h2o_linklist_insert(&queued_writes, &cn__req_int(r)->pending);
        } else {
            run_handler(r);
        }
    }
}

static void fiber_switch(void *ud, int in)
{
    fiber_state_t *fs = ud;
    if (in) {
        unit = fs->unit;
        cn_store_unit_restore(fs->req->store, &fs->store_unit);
        running_fiber = fs;
        return;
    }
    running_fiber = NULL;
    if (fs->req == NULL) /* finished: nothing of it to keep */
        return;
    fs->unit = unit;
    unit = (unit_t){0};
    cn_store_unit_save(fs->req->store, &fs->store_unit);
    cn_metrics_handler_suspended();
}

static void handle_on_fiber(void *arg)
{
    fiber_state_t *fs = arg;
    handle(fs->req);
    fs->req = NULL;
    /* back to the free list now; its last switch-out still reads it, and only a later
     * fiber's start takes it again */
    fs->next_free = free_fiber_states;
    free_fiber_states = fs;
}

/* A read on a store that may suspend it, over HTTP/1: h2o stops reading an HTTP/1
 * connection while its request runs, so the request cannot be disposed of while its
 * handler is suspended; an HTTP/2 stream can be reset at any time, and runs as before. */
static int runs_on_fiber(const cn_req_t *r)
{
    return !may_write(r->method) && r->h->version < 0x200 && cn_store_suspends(r->store);
}

static void start_fiber(cn_req_t *r)
{
    fiber_state_t *fs = free_fiber_states;
    if (fs)
        free_fiber_states = fs->next_free;
    else
        fs = cn_calloc(1, sizeof(*fs));
    fs->req = r;
    fs->unit = (unit_t){0};
    fs->store_unit = (cn_store_unit_state_t){0};
    cn_fiber_start(handle_on_fiber, fs, fiber_switch, fs);
}

int cn_http_handle(h2o_req_t *req, cn_store_t *store)
{
    cn_req_int_t *ri = h2o_mem_alloc_shared(&req->pool, sizeof(*ri), dispose_req);
    /* all zero but the field-error slots (4.6 KB, most of the struct): verrors.count
     * says how many of them hold anything */
    size_t items = offsetof(cn_req_int_t, pub.verrors.items), skip = sizeof(ri->pub.verrors.items);
    memset(ri, 0, items);
    memset((char *)ri + items + skip, 0, sizeof(*ri) - items - skip);
    ri->start_ns = cn_now_ns();
    ri->route_index = -1;
    cn_req_t *r = &ri->pub;
    r->h = req;
    r->store = store;
    r->method = cn_method_parse(req->input.method.base, req->input.method.len);
    set_request_id(r);
    if (runs_on_fiber(r))
        start_fiber(r); /* the end of the turn resumes it if it suspends */
    else
        handle(r);
    return 0;
}

/* The writes to run again (retry_later) join the next turn's queue; the loop comes back
 * for them at once. */
static int requeue_retries(int answered)
{
    if (retry_writes.next == NULL || h2o_linklist_is_empty(&retry_writes))
        return answered;
    if (queued_writes.next == NULL)
        h2o_linklist_init_anchor(&queued_writes);
    h2o_linklist_insert_list(&queued_writes, &retry_writes);
    return CN_TURN_WAITING;
}

/* 1 when no write of the queue runs again after a write sent ahead failed: then this
 * turn's writes may be sent ahead too (cn_store_set_writes_ahead); else each waits, so
 * the turn cannot fail that way twice. */
static int turn_writes_ahead(void)
{
    for (h2o_linklist_t *l = queued_writes.next; l != &queued_writes; l = l->next)
        if (H2O_STRUCT_FROM_MEMBER(cn_req_int_t, pending, l)->careful)
            return 0;
    return 1;
}

/* The writes queued to run again in a turn whose write sent ahead failed: they run
 * carefully (no writes ahead) too. Returns how many. */
static size_t retries_run_carefully(void)
{
    size_t n = 0;
    if (retry_writes.next == NULL)
        return 0;
    for (h2o_linklist_t *l = retry_writes.next; l != &retry_writes; l = l->next, n++)
        H2O_STRUCT_FROM_MEMBER(cn_req_int_t, pending, l)->careful = 1;
    return n;
}

/* A write sent ahead failed and the batch rolled back: every write that ran in it, held
 * answer or queued retry, runs again in the next turn, carefully (no writes ahead), where
 * each handler sees its own statements' outcomes; so does a read whose answer the batch
 * held. True when r was one of them. */
static int rerun_carefully(cn_req_int_t *ri)
{
    if (!ri->in_turn_writes && may_write(ri->pub.method))
        return 0; /* an offloaded write's completion: it cannot run again */
    ri->in_turn_writes = 0;
    ri->careful = 1;
    run_again(&ri->pub);
    return 1;
}

int cn_http_end_turn(cn_store_t *store)
{
    /* the turn's suspended reads first: no fiber may wait while the batch is open */
    int answered = cn_store_resume_waiting(store) > 0 ? CN_TURN_ANSWERED : CN_OK;
    cn_err_t err = {0};
    if (queued_writes.next != NULL && !h2o_linklist_is_empty(&queued_writes)) {
        int rc = cn_store_batch_try_begin(store, &err);
        if (rc == CN_STORE_LOCKED) { /* another writer: these wait, and later ones join them */
            /* no batch is open: this only ends the turn's read transaction */
            cn_ignore(cn_store_batch_commit(store, &err));
            return CN_TURN_WAITING;
        }
        if (rc != 0) /* each handler then meets the error itself */
            cn_log(CN_LOG_WARN, NULL, "cannot open the write batch: %s", err.msg);
    }
    if (queued_writes.next != NULL)
        cn_store_set_writes_ahead(store, turn_writes_ahead());
    while (queued_writes.next != NULL && !h2o_linklist_is_empty(&queued_writes)) {
        cn_req_int_t *ri = H2O_STRUCT_FROM_MEMBER(cn_req_int_t, pending, queued_writes.next);
        h2o_linklist_unlink(&ri->pending); /* its answer may link it again, as held back */
        ri->in_turn_writes = 1;
        run_handler(&ri->pub);
        answered = CN_TURN_ANSWERED;
    }
    cn_store_set_writes_ahead(store, 0); /* completions of offloaded work never do */
    if (!cn_store_batch_open(store)) {
        /* no batch is open: this only ends the turn's read transaction */
        cn_ignore(cn_store_batch_commit(store, &err));
        return requeue_retries(answered);
    }
    int rc = cn_store_batch_commit(store, &err);
    int late = rc != 0 && cn_store_batch_late(store);
    if (rc != 0 && !late)
        cn_log(CN_LOG_ERROR, NULL, "group commit failed, answering 503 to its requests: %s",
               err.msg);
    size_t rerun = late ? retries_run_carefully() : 0;
    while (pending_answers.next != NULL && !h2o_linklist_is_empty(&pending_answers)) {
        cn_req_int_t *ri = H2O_STRUCT_FROM_MEMBER(cn_req_int_t, pending, pending_answers.next);
        cn_req_t *r = &ri->pub;
        h2o_linklist_unlink(&ri->pending);
        answered = CN_TURN_ANSWERED;
        if (rc == 0) {
            start_sending(r);
            continue;
        }
        if (late && rerun_carefully(ri)) {
            rerun++;
            continue;
        }
        memset(&r->h->res.headers, 0, sizeof(r->h->res.headers));
        ri->responded = 0;
        problem(r, 503, "the change could not be committed; it was not applied, retry");
    }
    if (rerun > 0)
        cn_metrics_writes_rerun(rerun);
    return requeue_retries(answered);
}

static size_t max_body_limit;

/* ---- h2o's own error responses ----
 * h2o answers some errors itself before a handler runs (a body over server.max_body,
 * a broken chunked encoding or Content-Length, an unknown Transfer-Encoding or Expect).
 * This filter rewrites those text/plain answers into problem+json so every error a client
 * sees has the same shape; h2o's short text becomes the detail. Our own responses always
 * carry x-request-id, which is how the filter tells them apart. (A head h2o cannot parse
 * at all never reaches a filter: h2o writes its own plain 400 and closes.)
 */

typedef struct {
    h2o_ostream_t super;
    cn_req_int_t r; /* request id, method and start time for the answer and its log line */
    int rewritten;
} problem_ostream_t;

/* h2o's own text as the detail if it is short printable ASCII, else the status's title */
static void h2o_detail(int status, h2o_iovec_t *bufs, size_t n, char *out, size_t cap)
{
    if (status == 413) {
        snprintf(out, cap, "the request body is larger than %zu bytes (server.max_body)",
                 max_body_limit);
        return;
    }
    size_t len = 0;
    int ok = n > 0;
    for (size_t i = 0; ok && i < n; i++)
        for (size_t k = 0; ok && k < bufs[i].len; k++) {
            char c = bufs[i].base[k];
            ok = c >= ' ' && c <= '~' && len < cap - 1;
            if (ok)
                out[len++] = c;
        }
    out[len] = '\0';
    if (!ok || len == 0)
        snprintf(out, cap, "%s", reason(status));
}

/* h2o sends its error body in one final call: the body is known only here */
static void problem_do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n,
                            h2o_send_state_t state)
{
    problem_ostream_t *p = (problem_ostream_t *)self;
    if (p->rewritten || h2o_send_state_is_in_progress(state)) {
        h2o_ostream_send_next(self, req, NULL, 0, state);
        return;
    }
    p->rewritten = 1;
    int status = req->res.status;
    char detail[128];
    h2o_detail(status, bufs, n, detail, sizeof(detail));
    json_t *j = problem_json(status, detail, p->r.pub.request_id);
    cn_buf_t b = {0};
    cn_json_dump(j, &b);
    json_decref(j);
    h2o_iovec_t body = h2o_strdup(&req->pool, b.data, b.len);
    cn_buf_free(&b);
    req->res.content_length = body.len; /* the headers leave with the first send below */
    finish(&p->r.pub, status, body.len);
    h2o_ostream_send_next(self, req, &body, 1, state);
}

static void error_filter_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    if (req->res.status >= 400 &&
        h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("x-request-id"), -1) < 0) {
        problem_ostream_t *os = (problem_ostream_t *)h2o_add_ostream(req, sizeof(*os), slot);
        os->super.do_send = problem_do_send;
        os->rewritten = 0;
        os->r = (cn_req_int_t){.pub = {.h = req}, .start_ns = cn_now_ns(), .route_index = -1};
        os->r.pub.method = cn_method_parse(req->input.method.base, req->input.method.len);
        set_request_id(&os->r.pub);
        req->res.reason = reason(req->res.status); /* h2o says "Invalid Request" for 400 */
        memset(&req->res.headers, 0, sizeof(req->res.headers));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("application/problem+json"));
        add_common_headers(&os->r.pub);
        req->res.content_length = SIZE_MAX; /* set from the body in problem_do_send */
        slot = &os->super.next;
    }
    h2o_setup_next_ostream(req, slot);
}

void cn_error_filter_register(h2o_pathconf_t *path, size_t max_body)
{
    max_body_limit = max_body;
    h2o_filter_t *f = h2o_create_filter(path, sizeof(*f));
    f->on_setup_ostream = error_filter_setup;
}
