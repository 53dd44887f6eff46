/*
 * Route tables and matching. Routes are static data declared by modules; the router
 * compiles their path templates once at start-up and matches request paths without
 * allocating. It knows nothing of HTTP connections: it maps (method, path) to a route
 * and its decoded path parameters, or says why it cannot (404 or 405 + Allow).
 */
#ifndef CAIRN_CORE_ROUTER_H
#define CAIRN_CORE_ROUTER_H

#include "base/common.h"
#include "core/schema.h"

typedef enum {
    CN_GET = 0,
    CN_HEAD,
    CN_POST,
    CN_PUT,
    CN_PATCH,
    CN_DELETE,
    CN_OPTIONS,
    CN_METHOD_OTHER,
    CN_METHOD_MAX,
} cn_method_t;

typedef struct st_cn_req_t cn_req_t;

/**
 * A route handler. Runs on an event loop: it may do short store work inline. It either
 * sends a response (cn_reply_*) and returns 0, or returns a negative CN_E* code after
 * setting the message with cn_fail(); the kernel turns that into problem+json.
 */
typedef int (*cn_handler_fn)(cn_req_t *req);

/**
 * Error statuses an operation documents (problem+json answers), beyond those the kernel
 * derives from its row: 400/422 with a body, query or path parameters, 401/403 with a
 * permission, 404 with path parameters, 415 with a body, 429 always.
 */
enum {
    CN_ANS_400 = 1u << 0,
    CN_ANS_401 = 1u << 1,
    CN_ANS_403 = 1u << 2,
    CN_ANS_404 = 1u << 3,
    CN_ANS_409 = 1u << 4,
    CN_ANS_415 = 1u << 5,
    CN_ANS_422 = 1u << 6,
    CN_ANS_429 = 1u << 7,
    CN_ANS_503 = 1u << 8,
    CN_ANS_426 = 1u << 9,
};

/** Another success answer of a route than its success_status one (status 0 ends a list). */
typedef struct st_cn_answer_t {
    int status;
    const cn_schema_t *schema; /* its JSON body; NULL: none */
    const char *description;
} cn_answer_t;

/** One row of a module's route table. A table ends with a row whose path is NULL. */
typedef struct st_cn_route_t {
    cn_method_t method;
    const char *path; /* template, e.g. "/api/v1/notes/{id}" */
    cn_handler_fn handler;
    const char *permission; /* NULL: public (no authentication) */
    /* optional, for writes: runs as soon as the request is validated, before it waits for
     * the loop turn's write transaction, so CPU-heavy checks do not hold the process write
     * lock; it answers (an error) or returns 0 and leaves its work in r->prepared */
    cn_handler_fn prepare;
    const cn_schema_t *body;   /* JSON body schema; NULL: the route takes no JSON body */
    const char *raw_body;      /* media type of a non-JSON body the handler reads itself
                                * from r->h->entity ("text/csv"); NULL: none */
    const cn_schema_t *query;  /* query parameters; NULL: none accepted */
    const cn_schema_t *params; /* path parameters (formats); NULL: plain strings */
    const char *summary;       /* one line for the OpenAPI document */
    int success_status;        /* documented success status (200 when 0) */
    /* the success answer's JSON body (an object schema: a component of the document);
     * NULL with response_type for another media type, NULL alone for no body (204) */
    const cn_schema_t *response;
    const char *response_type; /* media type of a non-JSON success answer ("text/csv") */
    const cn_answer_t *also;   /* other success answers (status 0 ends it); NULL: none */
    const char *operation;     /* stable operationId "<module>.<verb>", e.g. "notes.create" */
    unsigned errors;           /* CN_ANS_* statuses beyond the derived ones (409, say) */
    unsigned hidden : 1;       /* not an API operation (console files): not documented */
    /* a web page's file (the console's): every answer of the route, its errors too, carries
     * the strict Content-Security-Policy that HTML answers carry (http.c) */
    unsigned page : 1;
    unsigned idempotency_key : 1; /* honours an Idempotency-Key request header */
    unsigned rate_auth : 1;       /* counts against the strict per-IP sign-in limit */
    unsigned no_write : 1;        /* a POST that stores nothing (a computation): it runs at once
                                   * instead of waiting for the loop turn's write transaction */
    /* with body: an empty body is allowed too (r->body stays NULL) */
    unsigned body_optional : 1;
    /* no permission, yet not public: the handler checks the credentials itself (the
     * realtime upgrade: a header or the first message), so the document lists them */
    unsigned self_auth : 1;
} cn_route_t;

#define CN_MAX_PARAMS 8
#define CN_MAX_SEGMENTS 24

typedef struct st_cn_param_t {
    const char *name; /* in the template: not NUL-terminated */
    size_t name_len;
    const char *value; /* percent-decoded, NUL-terminated, in the caller's scratch buffer */
    size_t value_len;
} cn_param_t;

typedef struct st_cn_match_t {
    const cn_route_t *route;
    int route_index;     /* stable index for metrics: 0..cn_router_count()-1 */
    unsigned allow_mask; /* on 405: bit per cn_method_t allowed for this path */
    /* on 405: the first of the routes at this path (another method's), for the answer's
     * headers (a page route's CSP) and the access log; NULL otherwise */
    const cn_route_t *other;
    size_t n_params;
    cn_param_t params[CN_MAX_PARAMS];
} cn_match_t;

typedef struct st_cn_router_t cn_router_t;

cn_router_t *cn_router_new(void);
void cn_router_free(cn_router_t *r);

/**
 * Adds every row of a route table (terminated by path == NULL). Rejects templates that
 * are malformed or duplicate an existing (method, shape) pair. Returns 0 or CN_EINVAL.
 */
int cn_router_add_table(cn_router_t *r, const cn_route_t *table, cn_err_t *err);

/** Number of routes added; route indexes run from 0 to this minus one. */
size_t cn_router_count(const cn_router_t *r);
const cn_route_t *cn_router_route(const cn_router_t *r, size_t index);

/**
 * Matches method + path (raw, without the query string). scratch must hold path_len + 1
 * bytes; decoded parameter values live there. HEAD falls back to GET. A literal segment
 * beats a parameter at the same position ("/notes/search" before "/notes/{id}").
 *
 * A template's last segment may be a catch-all, "{name...}": it takes the rest of the path,
 * one segment or more, slashes included, not empty ("/console/{path...}" matches
 * "/console/a" and "/console/a/b/", not "/console/", which is a route of its own). Its value
 * is percent-decoded like any parameter's (so it may hold "..", "//" or an encoded slash:
 * the handler checks what it accepts). A route of the path's own segment count, parameters
 * or not, beats every catch-all; among catch-alls the longer literal prefix wins. Paths of
 * more than CN_MAX_SEGMENTS segments match nothing, catch-all or not.
 * Returns 0 with out->route set; CN_EINVAL when a parameter has a bad percent-escape;
 * CN_ENOTFOUND otherwise, with out->allow_mask != 0 when the path exists for other
 * methods (the caller answers 405 with Allow, or 204 to OPTIONS).
 */
int cn_router_match(const cn_router_t *r, cn_method_t method, const char *path, size_t path_len,
                    char *scratch, cn_match_t *out);

/** Parses an HTTP method token. */
cn_method_t cn_method_parse(const char *s, size_t len);
const char *cn_method_name(cn_method_t m);

/** Writes "GET, HEAD, OPTIONS"-style Allow header value for a mask. Returns length. */
size_t cn_allow_header(unsigned mask, char *buf, size_t cap);

/** Returns the value of a path parameter, or NULL. */
const char *cn_match_param(const cn_match_t *m, const char *name);

/**
 * Percent-decodes src into dst (dst may equal src). When plus_is_space, '+' becomes ' '
 * (query strings). Returns the decoded length, or -1 on a bad escape or a NUL byte.
 */
long cn_percent_decode(const char *src, size_t len, char *dst, int plus_is_space);

/**
 * Splits a query string ("a=1&b=x%20y") into at most max decoded pairs. scratch must hold
 * len bytes. Returns the number of pairs, or CN_EINVAL with err set (bad escape, too many).
 */
int cn_query_parse(const char *qs, size_t len, char *scratch, cn_kv_t *out, size_t max,
                   cn_err_t *err);

#endif
