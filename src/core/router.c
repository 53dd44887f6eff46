/*
 * Router (see router.h). Templates are compiled into segment arrays once; matching is a
 * scan over routes with the same segment count, comparing raw literal segments and
 * decoding only the parameters of the winning route, then, when none of them takes the
 * path, over the few routes ending in a catch-all. No allocation per request.
 */
#include "core/router.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *text; /* literal text, or parameter name without braces */
    size_t len;
    int is_param;
} segment_t;

typedef struct {
    const cn_route_t *route;
    size_t n_segments;
    unsigned
        param_mask; /* bit (MAX-1-i) set when segment i is a parameter: smaller = more literal */
    int key;        /* the last literal segment, or -1: checked first, it tells most routes apart */
    int rest;       /* the last segment is a catch-all ("{path...}"): it takes the remainder */
    segment_t segments[CN_MAX_SEGMENTS];
} compiled_t;

/* The group of by_len holding the catch-all routes, after those of 0..CN_MAX_SEGMENTS. */
#define REST_GROUP (CN_MAX_SEGMENTS + 1)

struct st_cn_router_t {
    compiled_t *routes;
    size_t count, cap;
    /* route indexes grouped by segment count, in table order within a group: a path is
     * compared only with the routes of its own length, those of n segments being
     * by_len[first[n]] .. by_len[first[n + 1] - 1]; the catch-all routes are the group
     * REST_GROUP, whatever their length */
    size_t *by_len;
    uint32_t *sig; /* beside by_len: its route's key segment (see signature), 0 if none */
    size_t first[REST_GROUP + 2];
};

cn_router_t *cn_router_new(void)
{
    return cn_calloc(1, sizeof(cn_router_t));
}

void cn_router_free(cn_router_t *r)
{
    if (r == NULL)
        return;
    free(r->routes);
    free(r->by_len);
    free(r->sig);
    free(r);
}

size_t cn_router_count(const cn_router_t *r)
{
    return r->count;
}

const cn_route_t *cn_router_route(const cn_router_t *r, size_t index)
{
    return index < r->count ? r->routes[index].route : NULL;
}

static int compile(const cn_route_t *route, compiled_t *c, cn_err_t *err)
{
    const char *p = route->path;
    memset(c, 0, sizeof(*c));
    c->route = route;
    c->key = -1;
    if (p[0] != '/')
        return cn_err_set(err, CN_EINVAL, "route %s: must start with '/'", route->path);
    if (p[1] == '\0')
        return 0;
    while (*p == '/') {
        const char *start = ++p;
        while (*p != '\0' && *p != '/')
            p++;
        size_t len = (size_t)(p - start);
        /* a trailing slash is an empty last segment: "/console/" is its own route, and
         * "/console" does not match it (nor the reverse) */
        int trailing = len == 0 && *p == '\0';
        if (c->n_segments == CN_MAX_SEGMENTS || (len == 0 && !trailing))
            return cn_err_set(err, CN_EINVAL, "route %s: empty or too many segments", route->path);
        segment_t *s = &c->segments[c->n_segments];
        if (start[0] == '{') {
            if (len < 3 || start[len - 1] != '}' || memchr(start + 1, '{', len - 2) != NULL ||
                memchr(start + 1, '}', len - 2) != NULL)
                return cn_err_set(err, CN_EINVAL, "route %s: bad parameter", route->path);
            *s = (segment_t){start + 1, len - 2, 1};
            if (len > 5 && memcmp(start + len - 4, "...}", 4) == 0) {
                if (*p != '\0')
                    return cn_err_set(err, CN_EINVAL, "route %s: a catch-all must come last",
                                      route->path);
                s->len -= 3;
                c->rest = 1;
            }
            if (memchr(s->text, '.', s->len) != NULL)
                return cn_err_set(err, CN_EINVAL, "route %s: bad parameter", route->path);
            for (size_t k = 0; k < c->n_segments; k++)
                if (c->segments[k].is_param && c->segments[k].len == s->len &&
                    memcmp(c->segments[k].text, s->text, s->len) == 0)
                    return cn_err_set(err, CN_EINVAL, "route %s: parameter named twice",
                                      route->path);
            c->param_mask |= 1u << (CN_MAX_SEGMENTS - 1 - c->n_segments);
        } else {
            if (memchr(start, '{', len) || memchr(start, '}', len))
                return cn_err_set(err, CN_EINVAL, "route %s: braces inside a literal", route->path);
            *s = (segment_t){start, len, 0};
        }
        c->n_segments++;
    }
    for (size_t i = 0; i < c->n_segments; i++)
        if (!c->segments[i].is_param && c->segments[i].len > 0)
            c->key = (int)i;
    if (__builtin_popcount(c->param_mask) > CN_MAX_PARAMS)
        return cn_err_set(err, CN_EINVAL, "route %s: too many parameters", route->path);
    return 0;
}

static int same_shape(const compiled_t *a, const compiled_t *b)
{
    if (a->n_segments != b->n_segments || a->param_mask != b->param_mask || a->rest != b->rest)
        return 0;
    for (size_t i = 0; i < a->n_segments; i++)
        if (!a->segments[i].is_param &&
            (a->segments[i].len != b->segments[i].len ||
             memcmp(a->segments[i].text, b->segments[i].text, a->segments[i].len) != 0))
            return 0;
    return 1;
}

/* A route's key segment in 32 bits: its index + 1, its length, its first byte; 0 when it
 * has none (or one too long to fit). Compared in a dense array, so that telling a path
 * from the routes it does not match reads no compiled template (600 bytes each). */
static uint32_t signature(const compiled_t *c)
{
    if (c->key < 0 || c->segments[c->key].len > 0xffff)
        return 0;
    const segment_t *k = &c->segments[c->key];
    return (uint32_t)(c->key + 1) << 24 | (uint32_t)k->len << 8 | (unsigned char)k->text[0];
}

static size_t group_of(const compiled_t *c)
{
    return c->rest ? REST_GROUP : c->n_segments;
}

/* Rebuilds by_len / sig / first (a counting sort, stable: table order within a length). */
static void group_by_length(cn_router_t *r)
{
    size_t at[REST_GROUP + 2] = {0};
    for (size_t i = 0; i < r->count; i++)
        at[group_of(&r->routes[i]) + 1]++;
    for (size_t n = 1; n < REST_GROUP + 2; n++)
        at[n] += at[n - 1];
    memcpy(r->first, at, sizeof(at));
    r->by_len = cn_realloc(r->by_len, (r->count ? r->count : 1) * sizeof(*r->by_len));
    r->sig = cn_realloc(r->sig, (r->count ? r->count : 1) * sizeof(*r->sig));
    for (size_t i = 0; i < r->count; i++) {
        size_t k = at[group_of(&r->routes[i])]++;
        r->by_len[k] = i;
        r->sig[k] = signature(&r->routes[i]);
    }
}

int cn_router_add_table(cn_router_t *r, const cn_route_t *table, cn_err_t *err)
{
    for (const cn_route_t *route = table; route->path != NULL; route++) {
        compiled_t c;
        int rc = compile(route, &c, err);
        if (rc != 0)
            return rc;
        if (route->handler == NULL || route->method >= CN_METHOD_OTHER)
            return cn_err_set(err, CN_EINVAL, "route %s: needs a handler and a method",
                              route->path);
        for (size_t i = 0; i < r->count; i++)
            if (r->routes[i].route->method == route->method && same_shape(&r->routes[i], &c))
                return cn_err_set(err, CN_EINVAL, "route %s %s: declared twice",
                                  cn_method_name(route->method), route->path);
        if (r->count == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 16;
            r->routes = cn_realloc(r->routes, r->cap * sizeof(*r->routes));
        }
        r->routes[r->count++] = c;
    }
    group_by_length(r);
    return 0;
}

typedef struct {
    const char *p;
    size_t len;
} raw_seg_t;

static int split_path(const char *path, size_t len, raw_seg_t *segs, size_t *n)
{
    *n = 0;
    if (len == 0 || path[0] != '/')
        return -1;
    if (len == 1)
        return 0;
    size_t i = 0;
    while (i < len) { /* path[i] == '/' */
        size_t start = ++i;
        while (i < len && path[i] != '/')
            i++;
        if (*n == CN_MAX_SEGMENTS)
            return -1;
        segs[(*n)++] = (raw_seg_t){path + start, i - start};
    }
    return 0;
}

/* Routes share their leading segments (/api/v1/...): the last literal one (its length and
 * first byte, in sig) tells them apart at once */
static int key_matches(uint32_t sig, const raw_seg_t *segs)
{
    if (sig == 0)
        return 1;
    const raw_seg_t *s = &segs[(sig >> 24) - 1];
    return s->len == ((sig >> 8) & 0xffff) && (unsigned char)s->p[0] == (sig & 0xff);
}

/* memcmp(a, b, n) == 0 for the few bytes of a path segment, without the call */
static int same_bytes(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* Then every segment, last first. A catch-all takes segments n_segments - 1 .. n - 1 and
 * needs some of them non-empty ("/console/" is not "/console/{path...}"). */
static int shape_matches(const compiled_t *c, const raw_seg_t *segs, size_t n)
{
    size_t last = c->n_segments; /* >= 1 with a catch-all */
    if (c->rest) {
        if (last == 0 || n < last || (n == last && segs[n - 1].len == 0))
            return 0;
        last--;
    } else if (n != last) { /* the group's length: says so to the analyser */
        return 0;
    }
    for (size_t i = last; i-- > 0;) {
        const segment_t *s = &c->segments[i];
        if (s->is_param ? segs[i].len == 0
                        : (s->len != segs[i].len || !same_bytes(s->text, segs[i].p, s->len)))
            return 0;
    }
    return 1;
}

/* Is c a better match for method than best? Fewest parameters first, then the exact
 * method over GET for HEAD. Every method the path has goes into allow_mask. */
static int better(const compiled_t *c, const compiled_t *best, cn_method_t method, cn_match_t *out)
{
    cn_method_t m = c->route->method;
    out->allow_mask |= 1u << m;
    if (out->other == NULL)
        out->other = c->route;
    int usable = m == method || (method == CN_HEAD && m == CN_GET);
    return usable && (best == NULL || c->param_mask < best->param_mask ||
                      (c->param_mask == best->param_mask && m == method));
}

int cn_router_match(const cn_router_t *r, cn_method_t method, const char *path, size_t path_len,
                    char *scratch, cn_match_t *out)
{
    raw_seg_t segs[CN_MAX_SEGMENTS];
    size_t n;
    out->route = NULL; /* the parameter slots are filled below, as far as n_params says */
    out->n_params = 0;
    out->allow_mask = 0;
    out->route_index = -1;
    if (split_path(path, path_len, segs, &n) != 0)
        return CN_ENOTFOUND;
    const compiled_t *best = NULL;
    /* the routes of the path's own length, then, only if none takes it, the catch-alls: a
     * route of the path's length always beats a catch-all */
    const size_t groups[] = {n, REST_GROUP};
    for (size_t g = 0; g < 2 && best == NULL; g++) {
        for (size_t k = r->first[groups[g]]; k < r->first[groups[g] + 1]; k++) {
            size_t i = r->by_len[k];
            const compiled_t *c = &r->routes[i];
            if ((g == 1 && n < c->n_segments) || !key_matches(r->sig[k], segs) ||
                !shape_matches(c, segs, n))
                continue;
            if (better(c, best, method, out))
                best = c, out->route_index = (int)i;
        }
    }
    if (best == NULL) {
        out->route_index = -1;
        return CN_ENOTFOUND;
    }
    out->allow_mask = 0;
    out->other = NULL;
    out->route = best->route;
    char *dst = scratch;
    for (size_t i = 0; i < n && i < best->n_segments; i++) { /* n >= n_segments */
        if (!best->segments[i].is_param)
            continue;
        /* the catch-all's value: the rest of the path, its slashes included */
        size_t len = best->rest && i == best->n_segments - 1 ? (size_t)(path + path_len - segs[i].p)
                                                             : segs[i].len;
        long dl = cn_percent_decode(segs[i].p, len, dst, 0);
        if (dl <= 0)
            return CN_EINVAL;
        dst[dl] = '\0';
        out->params[out->n_params++] =
            (cn_param_t){best->segments[i].text, best->segments[i].len, dst, (size_t)dl};
        dst += dl + 1;
    }
    return 0;
}

const char *cn_match_param(const cn_match_t *m, const char *name)
{
    /* parameter names in templates are not NUL-terminated: compare by length */
    size_t len = strlen(name);
    for (size_t i = 0; i < m->n_params; i++)
        if (m->params[i].name_len == len && memcmp(m->params[i].name, name, len) == 0)
            return m->params[i].value;
    return NULL;
}

static const char *const method_names[] = {"GET",   "HEAD",   "POST",    "PUT",
                                           "PATCH", "DELETE", "OPTIONS", "OTHER"};

cn_method_t cn_method_parse(const char *s, size_t len)
{
    for (int m = 0; m < CN_METHOD_OTHER; m++)
        if (strlen(method_names[m]) == len && memcmp(method_names[m], s, len) == 0)
            return (cn_method_t)m;
    return CN_METHOD_OTHER;
}

const char *cn_method_name(cn_method_t m)
{
    return m < CN_METHOD_MAX ? method_names[m] : "OTHER";
}

size_t cn_allow_header(unsigned mask, char *buf, size_t cap)
{
    if (mask & (1u << CN_GET))
        mask |= 1u << CN_HEAD;
    mask |= 1u << CN_OPTIONS;
    size_t o = 0;
    buf[0] = '\0';
    for (int m = 0; m < CN_METHOD_OTHER; m++) {
        if (!(mask & (1u << m)))
            continue;
        size_t need = strlen(method_names[m]) + (o ? 2 : 0);
        if (o + need + 1 > cap)
            break;
        if (o)
            memcpy(buf + o, ", ", 2), o += 2;
        memcpy(buf + o, method_names[m], strlen(method_names[m]));
        o += strlen(method_names[m]);
        buf[o] = '\0';
    }
    return o;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long cn_percent_decode(const char *src, size_t len, char *dst, int plus_is_space)
{
    /* a path parameter (an id) seldom holds an escape: then it is a copy, checked for NUL */
    if (!plus_is_space && memchr(src, '%', len) == NULL) {
        if (memchr(src, '\0', len) != NULL)
            return -1;
        memmove(dst, src, len); /* callers may decode in place */
        return (long)len;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len || (hi = hexval(src[i + 1])) < 0 || (lo = hexval(src[i + 2])) < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == '\0')
            return -1;
        dst[o++] = c;
    }
    return (long)o;
}

int cn_query_parse(const char *qs, size_t len, char *scratch, cn_kv_t *out, size_t max,
                   cn_err_t *err)
{
    size_t n = 0, i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && qs[i] != '&')
            i++;
        size_t plen = i - start;
        i++; /* skip '&' */
        if (plen == 0)
            continue;
        if (n == max)
            return cn_err_set(err, CN_EINVAL, "too many query parameters (at most %zu)", max);
        const char *eq = memchr(qs + start, '=', plen);
        size_t klen = eq ? (size_t)(eq - (qs + start)) : plen;
        size_t vlen = eq ? plen - klen - 1 : 0;
        long dk = cn_percent_decode(qs + start, klen, scratch, 1);
        long dv = dk < 0 ? -1 : cn_percent_decode(qs + start + klen + 1, vlen, scratch + dk, 1);
        if (dk == 0)
            return cn_err_set(err, CN_EINVAL, "query string: parameter %zu has an empty name",
                              n + 1);
        if (dk < 0 || dv < 0)
            return cn_err_set(err, CN_EINVAL, "query string: parameter %zu is badly encoded",
                              n + 1);
        out[n++] = (cn_kv_t){scratch, (size_t)dk, scratch + dk, (size_t)dv};
        scratch += dk + dv;
    }
    return (int)n;
}
