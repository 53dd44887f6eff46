/*
 * Normalised cache keys for requests (cn_cache_key_for, declared in cache.h). Kept apart
 * from cache.c so the cache itself stays free of h2o and the request type. It only reads
 * what the pipeline already matched and validated; it never looks at raw request text.
 */
#include "core/cache.h"
#include "core/http.h"

#include <string.h>

typedef struct {
    char *buf;
    size_t cap, len;
    int overflow;
} key_writer_t;

static void put_bytes(key_writer_t *w, const char *s, size_t n)
{
    if (w->overflow || n >= w->cap - w->len) {
        w->overflow = 1;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

/*
 * A JSON-style string that is injective over all byte strings: '"', '\\' and controls
 * are escaped, every other byte (invalid UTF-8 included) is copied as it is. Replacing
 * bad bytes with U+FFFD, as output escaping does, would let two ids share a key.
 */
static void put_string(key_writer_t *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put_bytes(w, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put_bytes(w, s + start, i - start);
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        if (c == '"' || c == '\\')
            put_bytes(w, (char[]){'\\', (char)c}, 2);
        else
            put_bytes(w, esc, sizeof(esc));
        start = i + 1;
    }
    put_bytes(w, s + start, n - start);
    put_bytes(w, "\"", 1);
}

int cn_cache_key_for(cn_req_t *r, char *buf, size_t cap)
{
    if (r->route == NULL || cap == 0)
        return CN_EINVAL;
    key_writer_t w = {buf, cap, 0, 0};
    const char *method = cn_method_name(r->route->method);
    put_bytes(&w, "[", 1);
    put_string(&w, method, strlen(method));
    put_bytes(&w, ",", 1);
    put_string(&w, r->route->path, strlen(r->route->path));
    put_bytes(&w, ",{", 2);
    for (size_t i = 0; i < r->match.n_params; i++) { /* template order: fixed per route */
        const cn_param_t *p = &r->match.params[i];
        if (i > 0)
            put_bytes(&w, ",", 1);
        put_string(&w, p->name, strcspn(p->name, "}")); /* names end at '}' in the template */
        put_bytes(&w, ":", 1);
        put_string(&w, p->value, p->value_len);
    }
    put_bytes(&w, "},", 2);
    if (r->query == NULL) {
        put_bytes(&w, "{}", 2);
    } else if (!w.overflow) {
        /* typed by the route's query schema, so "02" and "2" are one integer; sorted */
        size_t room = cap - w.len - 1;
        size_t n = json_dumpb(r->query, buf + w.len, room, JSON_COMPACT | JSON_SORT_KEYS);
        if (n == 0 || n > room)
            w.overflow = 1;
        else
            w.len += n;
    }
    put_bytes(&w, "]", 1);
    if (w.overflow)
        return CN_EINVAL;
    buf[w.len] = '\0';
    return 0;
}

int cn_cache_request(cn_req_t *r, const char *const *tags, cn_cached_req_t *c)
{
    /* inside an open write batch a read may roll back without any invalidation */
    c->cacheable =
        !cn_store_batch_open(r->store) && cn_cache_key_for(r, c->key, sizeof(c->key)) == 0;
    if (!c->cacheable)
        return 0;
    if (cn_cache_get(cn_req_tenant(r), c->key, tags, cn_reply_buffer(r), &c->token) ==
        CN_CACHE_HIT) {
        cn_reply_header(r, "x-cache", H2O_STRLIT("hit"));
        return CN_CACHE_HIT;
    }
    /* the answer must be read after the token was taken, not from the turn's snapshot */
    c->cacheable = cn_store_fresh_read(r->store, NULL) == 0;
    cn_reply_header(r, "x-cache", H2O_STRLIT("miss"));
    return 0;
}

void cn_cache_answer(cn_req_t *r, const cn_cached_req_t *c, const cn_buf_t *body, int64_t ttl_ms)
{
    if (c->cacheable)
        cn_cache_put(cn_req_tenant(r), c->key, &c->token, body->data, body->len, ttl_ms);
}
