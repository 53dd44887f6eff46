/*
 * The request seen by handlers, and the only ways to answer it. A cn_req_t lives in the
 * h2o request's memory pool and dies with it. Every error leaves through one function
 * (cn_reply_problem) as application/problem+json (RFC 9457), so handlers never format
 * HTTP errors themselves: they return a CN_E* code after cn_fail().
 */
#ifndef CAIRN_CORE_HTTP_H
#define CAIRN_CORE_HTTP_H

#include "core/json.h"
#include "core/router.h"
#include "core/schema.h"
#include "store/store.h"

#include <h2o.h>

/** Tenant of callers authenticated with the bootstrap token (until identity lands). */
#define CN_BOOTSTRAP_TENANT "00000000-0000-7000-8000-000000000001"

/** The longest role name, built-in or custom; buffers holding one are this plus one. */
#define CN_ROLE_NAME_MAX 32

/** Who is calling. Filled by the authentication hook for routes with a permission. */
typedef struct st_cn_principal_t {
    char tenant_id[64];
    char subject[64];    /* user id, key id, or "bootstrap" */
    char session_id[40]; /* for users: the session (revocable), else empty */
    /* the caller's role in tenant_id, empty for the bootstrap token */
    char role[CN_ROLE_NAME_MAX + 1];
    char scopes[512]; /* API keys: the permissions granted, comma-separated */
    int is_key;       /* an API key: only scopes count, no role */
    int is_operator;  /* the bootstrap token: every permission, in its own tenant */
    int mfa;          /* the session was opened with a second factor */
    int authenticated;
} cn_principal_t;

/**
 * A request as its handler sees it. The kernel allocates it inside a larger object that
 * also holds the pipeline's own bookkeeping (answered yet, held for the commit, offloaded
 * work, timing: core/http_int.h), so a handler can neither read nor disturb that state,
 * and it costs no second allocation. Never create one outside the kernel (tests may
 * zero one for functions that read only these fields).
 */
struct st_cn_req_t {
    h2o_req_t *h;
    cn_store_t *store; /* this loop's connection */
    const cn_route_t *route;
    cn_method_t method;
    cn_match_t match; /* the matched route and its path parameters (read cn_req_param) */
    json_t *query;    /* validated query parameters, or NULL when the route takes none */
    json_t *body;     /* validated JSON body, or NULL */
    cn_principal_t principal;
    char request_id[72];
    cn_err_t err;         /* message for a failed handler */
    cn_verrors_t verrors; /* field errors for CN_EVALIDATION */
    void *prepared;       /* what the route's prepare step left for its handler */
    /* a finer problem type slug than the status's (a static string), or NULL: cn_fail_typed */
    const char *problem_type;
};

/** Returns a path parameter's decoded value (NUL-terminated), or NULL. */
const char *cn_req_param(cn_req_t *r, const char *name);

/** Tenant of the authenticated caller. */
static inline const char *cn_req_tenant(const cn_req_t *r)
{
    return r->principal.tenant_id;
}

/** Records a failure for the kernel to answer; returns code so handlers can return it. */
int cn_fail(cn_req_t *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/**
 * Like cn_fail, and the answer's problem type is urn:cairn:problem:<slug> instead of the
 * status's own (for clients that must tell two 429s apart). slug is a static string.
 */
int cn_fail_typed(cn_req_t *r, int code, const char *slug, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** Records a field-level validation failure (422); returns CN_EVALIDATION. */
int cn_fail_field(cn_req_t *r, const char *field, const char *message);

/** Adds a response header (name lower-case). Value is copied. */
void cn_reply_header(cn_req_t *r, const char *name, const char *value, size_t len);

/** Sends json (reference stolen) with status. Returns 0. */
int cn_reply_json(cn_req_t *r, int status, json_t *json);

/**
 * Returns an empty per-thread buffer for building a JSON answer with cn_jw_*; send it
 * with cn_reply_json_buf(). Valid until the next reply on this thread.
 */
cn_buf_t *cn_reply_buffer(cn_req_t *r);
int cn_reply_json_buf(cn_req_t *r, int status);

/**
 * Sends a prepared body with a content type. Body is copied into the request pool. An HTML
 * answer, and every answer of a route marked .page, carries the strict page CSP.
 */
int cn_reply_raw(cn_req_t *r, int status, const char *content_type, const char *body, size_t len);

/** Like cn_reply_raw for a body in static storage (compiled in): sent without a copy. */
int cn_reply_static(cn_req_t *r, int status, const char *content_type, const char *body,
                    size_t len);

/** Sends a status with no body (204, 304). */
int cn_reply_empty(cn_req_t *r, int status);

/**
 * Sends a problem+json answer. code selects status and type; detail is shown to the
 * client except for internal errors, whose detail goes to the log only.
 */
int cn_reply_problem(cn_req_t *r, int code, const char *detail);

/** Status for a CN_E* code (CN_EINVAL -> 400, ...). */
int cn_status_for(int code);

/** The authentication hook: fills r->principal or returns CN_EUNAUTH (with cn_fail). */
typedef int (*cn_auth_fn)(cn_req_t *r);
void cn_set_auth_hook(cn_auth_fn fn);

/** Permission check hook: returns 0 or CN_EFORBIDDEN. Default allows authenticated callers. */
typedef int (*cn_authz_fn)(cn_req_t *r, const char *permission);
void cn_set_authz_hook(cn_authz_fn fn);

/**
 * Called when a POST/PUT/PATCH/DELETE handler (or its completion) answers with a status
 * below 400, inside the request's unit of work (the audit log uses it): what it stages
 * follows the request's outcome. A non-zero return rolls the unit back and the answer
 * becomes a 500.
 */
typedef int (*cn_after_write_fn)(cn_req_t *r);
void cn_set_after_write_hook(cn_after_write_fn fn);

/**
 * Tells whether a session (cn_principal_t.session_id) has been signed out since it
 * authenticated, or (tenant_id not NULL) has moved out of that tenant: long-lived
 * connections (the realtime hub) ask it periodically.
 */
typedef int (*cn_session_revoked_fn)(const char *session_id, const char *tenant_id);
void cn_set_session_revoked_hook(cn_session_revoked_fn fn);
int cn_session_revoked(const char *session_id, const char *tenant_id);

/** Sets the bootstrap token accepted by the default authentication hook. */
void cn_auth_bootstrap_init(const char *token, const char *tenant_id);

/** The kernel's bootstrap-token check, for hooks that fall back to it. */
int cn_auth_bootstrap(cn_req_t *r);

/** Runs the authentication hook on r (for routes that authenticate in their handler). */
int cn_req_authenticate(cn_req_t *r);
/** Runs the permission hook for r's principal: 0 or CN_EFORBIDDEN. */
int cn_req_allowed(cn_req_t *r, const char *permission);

/** Authenticates a bearer token that did not come in a header (a WebSocket message). */
int cn_token_authenticate(cn_store_t *s, const char *token, size_t len, cn_principal_t *p,
                          cn_err_t *err);
/** The permission check for a principal outside a request: 0 or CN_EFORBIDDEN. */
int cn_principal_allowed(cn_store_t *s, const cn_principal_t *p, const char *permission,
                         cn_err_t *err);

/**
 * The handler drives r->h itself from now on (a WebSocket upgrade, an event stream): r
 * counts as answered with status (logged now), and carries the common headers.
 */
void cn_req_takeover(cn_req_t *r, int status);

/**
 * Starts a streamed 200 answer of content_type, plus the headers given as name, value
 * pairs ending with NULL (or none: NULL); all strings must outlive the request. The body
 * is gen's: h2o calls gen->proceed as the client reads, and the handler sends with
 * h2o_send(r->h, ...). A HEAD request gets the headers alone: then this returns 0 and gen
 * is never used (it may be NULL); otherwise CN_STREAMING.
 */
int cn_reply_stream(cn_req_t *r, const char *content_type, const char *const *headers,
                    h2o_generator_t *gen);

/** Value of a request header (name lower-case), or {NULL, 0}. */
h2o_iovec_t cn_req_header(cn_req_t *r, const char *name);

/**
 * The client's IP address as text (for logs and limits): the peer, or behind a trusted
 * proxy (server.trusted_proxies) the address X-Forwarded-For names (see proxy.h).
 */
void cn_req_peer(cn_req_t *r, char *buf, size_t cap);

#endif
