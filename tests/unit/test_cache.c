/*
 * Unit tests for the response cache (src/core/cache.h): hits and misses, TTL expiry on an
 * injected clock, invalidation by tag (including a value computed before an invalidation
 * and stored after it), tenant isolation, LRU eviction under the byte bound, request key
 * normalisation, and get/put/invalidate from four threads checking that a hit is never
 * another tenant's value nor older than the last completed invalidation.
 */
#include "core/cache.h"
#include "core/http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t fake_now = 1000;

static int64_t fake_clock(void)
{
    return fake_now;
}

static int setup(void **state)
{
    fake_now = 1000;
    cn__cache_set_clock(fake_clock);
    cn_cache_init(64 << 20, 60000);
    return 0;
}

static int teardown(void **state)
{
    cn_cache_free();
    cn__cache_set_clock(NULL);
    return 0;
}

/* get as a string: "" on a miss; 1 on a hit (a boolean, for short assertions) */
static int get_str(const char *tenant, const char *key, const char *const *tags, char *out,
                   size_t cap, cn_cache_token_t *token)
{
    cn_buf_t b = {0};
    cn_cache_token_t unused;
    int hit = cn_cache_get(tenant, key, tags, &b, token ? token : &unused);
    snprintf(out, cap, "%.*s", (int)b.len, b.data ? b.data : "");
    cn_buf_free(&b);
    return hit == CN_CACHE_HIT;
}

static int put_str(const char *tenant, const char *key, const cn_cache_token_t *token,
                   const char *value, int64_t ttl_ms)
{
    return cn_cache_put(tenant, key, token, value, strlen(value), ttl_ms);
}

static const char *const notes_tag[] = {"notes", NULL};

static void test_hit_and_miss(void **state)
{
    char v[64];
    cn_cache_token_t tok;
    assert_int_equal(get_str("t1", "list", notes_tag, v, sizeof(v), &tok), 0);
    assert_true(tok.usable);
    assert_int_equal(put_str("t1", "list", &tok, "[1,2]", 0), 0);
    assert_int_equal(get_str("t1", "list", notes_tag, v, sizeof(v), NULL), 1);
    assert_string_equal(v, "[1,2]");
    assert_int_equal(get_str("t1", "other", notes_tag, v, sizeof(v), NULL), 0);

    /* a put replaces the value under the same key */
    assert_int_equal(put_str("t1", "list", &tok, "[3]", 0), 0);
    assert_int_equal(get_str("t1", "list", notes_tag, v, sizeof(v), NULL), 1);
    assert_string_equal(v, "[3]");

    /* an empty value is a value */
    assert_int_equal(cn_cache_put("t1", "empty", &tok, NULL, 0, 0), 0);
    assert_int_equal(get_str("t1", "empty", NULL, v, sizeof(v), NULL), 1);
    assert_string_equal(v, "");

    cn_cache_stats_t s;
    cn_cache_stats(&s);
    assert_int_equal(s.hits, 3);
    assert_int_equal(s.misses, 2);
    assert_int_equal(s.entries, 2);
    assert_true(s.bytes > 0);
    assert_int_equal(s.n_shards, 16);
}

static void test_ttl_expiry(void **state)
{
    char v[64];
    cn_cache_token_t tok;
    get_str("t1", "short", NULL, v, sizeof(v), &tok);
    assert_int_equal(put_str("t1", "short", &tok, "s", 100), 0);
    assert_int_equal(put_str("t1", "default", &tok, "d", 0), 0);
    fake_now += 99;
    assert_int_equal(get_str("t1", "short", NULL, v, sizeof(v), NULL), 1);
    fake_now += 1;
    assert_int_equal(get_str("t1", "short", NULL, v, sizeof(v), NULL), 0);
    /* ttl 0 takes cache.ttl_ms (60000 here) */
    fake_now = 1000 + 59999;
    assert_int_equal(get_str("t1", "default", NULL, v, sizeof(v), NULL), 1);
    fake_now += 1;
    assert_int_equal(get_str("t1", "default", NULL, v, sizeof(v), NULL), 0);

    cn_cache_stats_t s;
    cn_cache_stats(&s);
    assert_int_equal(s.expired, 2);
    assert_int_equal(s.entries, 0);
    assert_int_equal(s.bytes, 0);
    assert_int_equal(put_str("t1", "neg", &tok, "x", -1), CN_EINVAL);
}

static void test_ttl_with_real_clock(void **state)
{
    cn__cache_set_clock(NULL);
    char v[8];
    cn_cache_token_t tok;
    get_str("t1", "k", NULL, v, sizeof(v), &tok);
    assert_int_equal(put_str("t1", "k", &tok, "v", 20), 0);
    assert_int_equal(get_str("t1", "k", NULL, v, sizeof(v), NULL), 1);
    struct timespec ts = {0, 40 * 1000000};
    nanosleep(&ts, NULL);
    assert_int_equal(get_str("t1", "k", NULL, v, sizeof(v), NULL), 0);
}

static void test_invalidation_by_tag(void **state)
{
    char v[64];
    cn_cache_token_t tok;
    static const char *const other_tag[] = {"users", NULL};
    static const char *const both[] = {"users", "notes", NULL};
    get_str("t1", "notes", notes_tag, v, sizeof(v), &tok);
    assert_int_equal(put_str("t1", "notes", &tok, "N", 0), 0);
    get_str("t1", "users", other_tag, v, sizeof(v), &tok);
    assert_int_equal(put_str("t1", "users", &tok, "U", 0), 0);
    get_str("t1", "both", both, v, sizeof(v), &tok);
    assert_int_equal(put_str("t1", "both", &tok, "B", 0), 0);

    cn_cache_invalidate("t1", "notes");
    assert_int_equal(get_str("t1", "notes", notes_tag, v, sizeof(v), NULL), 0);
    assert_int_equal(get_str("t1", "both", both, v, sizeof(v), NULL), 0);
    assert_int_equal(get_str("t1", "users", other_tag, v, sizeof(v), NULL), 1);
    assert_string_equal(v, "U");

    /* computed again after the invalidation: served */
    get_str("t1", "notes", notes_tag, v, sizeof(v), &tok);
    assert_int_equal(put_str("t1", "notes", &tok, "N2", 0), 0);
    assert_int_equal(get_str("t1", "notes", notes_tag, v, sizeof(v), NULL), 1);
    assert_string_equal(v, "N2");

    cn_cache_stats_t s;
    cn_cache_stats(&s);
    assert_int_equal(s.invalidations, 1);
}

static void test_token_before_invalidation_is_not_served(void **state)
{
    char v[64];
    cn_cache_token_t tok;
    /* miss, the caller starts computing, a write invalidates, then the old value arrives */
    assert_int_equal(get_str("t1", "list", notes_tag, v, sizeof(v), &tok), 0);
    cn_cache_invalidate("t1", "notes");
    assert_int_equal(put_str("t1", "list", &tok, "old", 0), CN_ECONFLICT);
    assert_int_equal(get_str("t1", "list", notes_tag, v, sizeof(v), NULL), 0);

    /* the same through a token taken without a lookup */
    assert_int_equal(cn_cache_token("t1", notes_tag, &tok), 0);
    cn_cache_invalidate("t1", "notes");
    assert_int_equal(put_str("t1", "list", &tok, "old", 0), CN_ECONFLICT);

    /* the invalidation lands after the put's own check: the get still refuses the entry */
    assert_int_equal(cn_cache_token("t1", notes_tag, &tok), 0);
    assert_int_equal(put_str("t1", "list", &tok, "fresh", 0), 0);
    cn_cache_invalidate("t1", "notes");
    assert_int_equal(get_str("t1", "list", notes_tag, v, sizeof(v), NULL), 0);
    cn_cache_stats_t s;
    cn_cache_stats(&s);
    assert_int_equal(s.entries, 0); /* the stale entry was freed by the get */
}

static void test_no_cross_tenant_hit(void **state)
{
    char v[64];
    cn_cache_token_t tok_a, tok_b;
    assert_int_equal(get_str("tenant-a", "/notes", NULL, v, sizeof(v), &tok_a), 0);
    assert_int_equal(put_str("tenant-a", "/notes", &tok_a, "A", 0), 0);
    assert_int_equal(get_str("tenant-b", "/notes", NULL, v, sizeof(v), &tok_b), 0);
    assert_int_equal(put_str("tenant-b", "/notes", &tok_b, "B", 0), 0);
    assert_int_equal(get_str("tenant-a", "/notes", NULL, v, sizeof(v), NULL), 1);
    assert_string_equal(v, "A");
    assert_int_equal(get_str("tenant-b", "/notes", NULL, v, sizeof(v), NULL), 1);
    assert_string_equal(v, "B");
    assert_int_equal(get_str("tenant-c", "/notes", NULL, v, sizeof(v), NULL), 0);

    /* a token belongs to its tenant */
    assert_int_equal(put_str("tenant-c", "/notes", &tok_a, "A?", 0), CN_EINVAL);
    assert_int_equal(get_str("tenant-c", "/notes", NULL, v, sizeof(v), NULL), 0);

    /* the tenant/key boundary cannot be moved: "a\nb" + "c" is refused, not "a" + "b\nc" */
    assert_int_equal(get_str("a", "b\nc", NULL, v, sizeof(v), &tok_a), 0);
    assert_int_equal(put_str("a", "b\nc", &tok_a, "x", 0), 0);
    assert_int_equal(get_str("a\nb", "c", NULL, v, sizeof(v), &tok_b), 0);
    assert_false(tok_b.usable);
    assert_int_equal(put_str("a\nb", "c", &tok_a, "y", 0), CN_EINVAL);

    /* no tenant, no caching */
    assert_int_equal(get_str("", "/notes", NULL, v, sizeof(v), &tok_b), 0);
    assert_false(tok_b.usable);
    assert_int_equal(put_str("", "/notes", &tok_a, "x", 0), CN_EINVAL);
    assert_int_equal(cn_cache_get(NULL, "/notes", NULL, &(cn_buf_t){0}, &tok_b), 0);
}

static void test_invalidation_is_per_tenant(void **state)
{
    char v[64];
    cn_cache_token_t tok;
    get_str("tenant-a", "list", notes_tag, v, sizeof(v), &tok);
    assert_int_equal(put_str("tenant-a", "list", &tok, "A", 0), 0);
    get_str("tenant-b", "list", notes_tag, v, sizeof(v), &tok);
    assert_int_equal(put_str("tenant-b", "list", &tok, "B", 0), 0);
    cn_cache_invalidate("tenant-a", "notes");
    assert_int_equal(get_str("tenant-a", "list", notes_tag, v, sizeof(v), NULL), 0);
    assert_int_equal(get_str("tenant-b", "list", notes_tag, v, sizeof(v), NULL), 1);
    assert_string_equal(v, "B");
}

static void test_lru_eviction(void **state)
{
    cn_cache_init(64 << 10, 60000); /* small budget: one shard, so one LRU order */
    cn_cache_stats_t s;
    cn_cache_stats(&s);
    assert_int_equal(s.n_shards, 1);

    static char big[15000];
    memset(big, 'x', sizeof(big));
    cn_cache_token_t tok;
    assert_int_equal(cn_cache_token("t1", NULL, &tok), 0);
    const char *keys[] = {"a", "b", "c", "d"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(cn_cache_put("t1", keys[i], &tok, big, sizeof(big), 0), 0);
    cn_cache_stats(&s);
    assert_int_equal(s.entries, 4);
    assert_int_equal(s.evictions, 0);
    assert_true(s.bytes <= 64 << 10);

    cn_buf_t b = {0};
    /* a is now the newest */
    assert_int_equal(cn_cache_get("t1", "a", NULL, &b, &tok), CN_CACHE_HIT);
    assert_int_equal(b.len, sizeof(big));
    cn_buf_free(&b);

    assert_int_equal(cn_cache_put("t1", "e", &tok, big, sizeof(big), 0), 0);
    cn_cache_stats(&s);
    assert_int_equal(s.evictions, 1);
    assert_int_equal(s.entries, 4);
    assert_true(s.bytes <= 64 << 10);
    char v[8];
    assert_int_equal(get_str("t1", "b", NULL, v, sizeof(v), NULL), 0); /* least recent */
    const char *kept[] = {"a", "c", "d", "e"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(get_str("t1", kept[i], NULL, v, sizeof(v), NULL), 1);

    /* an entry over a quarter of the shard is refused rather than flushing the shard */
    static char huge[20000];
    assert_int_equal(cn_cache_put("t1", "huge", &tok, huge, sizeof(huge), 0), CN_EINVAL);
    cn_cache_stats(&s);
    assert_int_equal(s.entries, 4);
}

static void test_expired_tail_counts_as_expired(void **state)
{
    cn_cache_init(64 << 10, 60000);
    static char big[15000];
    cn_cache_token_t tok;
    assert_int_equal(cn_cache_token("t1", NULL, &tok), 0);
    assert_int_equal(cn_cache_put("t1", "old", &tok, big, sizeof(big), 10), 0);
    for (int i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(cn_cache_put("t1", key, &tok, big, sizeof(big), 0), 0);
    }
    fake_now += 10;
    assert_int_equal(cn_cache_put("t1", "new", &tok, big, sizeof(big), 0), 0);
    cn_cache_stats_t s;
    cn_cache_stats(&s);
    assert_int_equal(s.expired, 1);
    assert_int_equal(s.evictions, 0);
}

static void test_shards_follow_budget(void **state)
{
    cn_cache_stats_t s;
    cn_cache_init(4 << 20, 1000);
    cn_cache_stats(&s);
    assert_int_equal(s.n_shards, 4);
    cn_cache_init(1LL << 30, 1000);
    cn_cache_stats(&s);
    assert_int_equal(s.n_shards, 16);
}

static void test_disabled_and_bad_arguments(void **state)
{
    char v[8];
    cn_cache_token_t tok;
    static const char *const five[] = {"a", "b", "c", "d", "e", NULL};
    assert_int_equal(get_str("t1", "k", five, v, sizeof(v), &tok), 0);
    assert_false(tok.usable);
    assert_int_equal(put_str("t1", "k", &tok, "x", 0), CN_EINVAL);
    assert_int_equal(cn_cache_token("t1", five, &tok), CN_EINVAL);

    cn_cache_init(0, 1000); /* cache.max_bytes = 0 */
    assert_int_equal(get_str("t1", "k", NULL, v, sizeof(v), &tok), 0);
    assert_false(tok.usable);
    assert_int_equal(put_str("t1", "k", &tok, "x", 0), CN_EINVAL);
    assert_int_equal(cn_cache_token("t1", NULL, &tok), CN_EINVAL);
    cn_cache_invalidate("t1", "notes");
    cn_cache_stats_t s;
    cn_cache_stats(&s);
    assert_int_equal(s.entries + s.hits + s.misses + s.invalidations, 0);
    cn_buf_t m = {0};
    cn_cache_render_metrics(&m);
    assert_non_null(strstr(m.data, "cairn_cache_hits_total 0\n"));
    cn_buf_free(&m);
}

static void test_metrics_text(void **state)
{
    char v[8];
    cn_cache_token_t tok;
    get_str("t1", "k", NULL, v, sizeof(v), &tok);
    put_str("t1", "k", &tok, "x", 0);
    get_str("t1", "k", NULL, v, sizeof(v), NULL);
    cn_cache_invalidate("t1", "notes");
    cn_buf_t m = {0};
    cn_cache_render_metrics(&m);
    static const char *const want[] = {
        "# TYPE cairn_cache_hits_total counter\ncairn_cache_hits_total 1\n",
        "# TYPE cairn_cache_misses_total counter\ncairn_cache_misses_total 1\n",
        "# TYPE cairn_cache_evictions_total counter\ncairn_cache_evictions_total 0\n",
        "# TYPE cairn_cache_expired_total counter\ncairn_cache_expired_total 0\n",
        "# TYPE cairn_cache_invalidations_total counter\ncairn_cache_invalidations_total 1\n",
        "# TYPE cairn_cache_entries gauge\ncairn_cache_entries 1\n",
        "# TYPE cairn_cache_bytes gauge\ncairn_cache_bytes ",
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(want); i++)
        if (strstr(m.data, want[i]) == NULL)
            fail_msg("missing %s in:\n%s", want[i], m.data);
    cn_buf_free(&m);
}

/* ---- request keys ---- */

static int no_handler(cn_req_t *r)
{
    return 0;
}

static const cn_route_t note_route = {CN_GET, "/api/v1/notes/{id}/parts/{part}", no_handler,
                                      "notes.read"};

static void key_req(cn_req_t *r, const char *id, size_t id_len, const char *part, json_t *query)
{
    memset(r, 0, sizeof(*r));
    r->route = &note_route;
    r->match.route = &note_route;
    r->match.n_params = 2;
    r->match.params[0] = (cn_param_t){strstr(note_route.path, "{id}") + 1, 2, id, id_len};
    r->match.params[1] = (cn_param_t){strstr(note_route.path, "{part}") + 1, 4, part, strlen(part)};
    r->query = query;
}

static void test_key_for_request(void **state)
{
    cn_req_t r;
    char k1[CN_CACHE_KEY_MAX], k2[CN_CACHE_KEY_MAX];

    key_req(&r, "n1", 2, "p", json_pack("{s:i,s:s}", "limit", 5, "after", "x"));
    assert_int_equal(cn_cache_key_for(&r, k1, sizeof(k1)), 0);
    assert_string_equal(
        k1, "[\"GET\",\"/api/v1/notes/{id}/parts/{part}\",{\"id\":\"n1\",\"part\":\"p\"},"
            "{\"after\":\"x\",\"limit\":5}]");
    json_decref(r.query);

    /* parameters given in another order are the same key */
    key_req(&r, "n1", 2, "p", json_pack("{s:s,s:i}", "after", "x", "limit", 5));
    assert_int_equal(cn_cache_key_for(&r, k2, sizeof(k2)), 0);
    assert_string_equal(k1, k2);
    json_decref(r.query);

    /* no query: an empty object */
    key_req(&r, "n1", 2, "p", NULL);
    assert_int_equal(cn_cache_key_for(&r, k1, sizeof(k1)), 0);
    assert_string_equal(k1, "[\"GET\",\"/api/v1/notes/{id}/parts/{part}\","
                            "{\"id\":\"n1\",\"part\":\"p\"},{}]");

    /* a value cannot forge the next field, and bad UTF-8 bytes stay distinct */
    key_req(&r, "a\",\"part\":\"b", 12, "c", NULL);
    assert_int_equal(cn_cache_key_for(&r, k1, sizeof(k1)), 0);
    key_req(&r, "a", 1, "b\",\"part\":\"c", NULL);
    assert_int_equal(cn_cache_key_for(&r, k2, sizeof(k2)), 0);
    assert_string_not_equal(k1, k2);
    key_req(&r, "\xff\n", 2, "p", NULL);
    assert_int_equal(cn_cache_key_for(&r, k1, sizeof(k1)), 0);
    assert_non_null(strstr(k1, "\"id\":\"\xff\\u000a\""));
    key_req(&r, "\xfe\n", 2, "p", NULL);
    assert_int_equal(cn_cache_key_for(&r, k2, sizeof(k2)), 0);
    assert_string_not_equal(k1, k2);

    /* too long for the buffer: not cacheable */
    key_req(&r, "n1", 2, "p", json_pack("{s:s}", "q", "a long query value"));
    assert_int_equal(cn_cache_key_for(&r, k1, 60), CN_EINVAL);
    assert_int_equal(cn_cache_key_for(&r, k1, 40), CN_EINVAL);
    assert_int_equal(cn_cache_key_for(&r, k1, sizeof(k1)), 0);
    size_t exact = strlen(k1) + 1;
    assert_int_equal(cn_cache_key_for(&r, k2, exact), 0);
    assert_string_equal(k1, k2);
    assert_int_equal(cn_cache_key_for(&r, k2, exact - 1), CN_EINVAL);
    json_decref(r.query);

    r.route = NULL;
    assert_int_equal(cn_cache_key_for(&r, k1, sizeof(k1)), CN_EINVAL);
}

/* ---- four threads ---- */

#define N_TENANTS 4
#define N_KEYS 500
#define N_TAGS 8
#define VALUE_LEN 3000

static uint64_t version[N_TENANTS][N_TAGS];   /* the "data": bumped by writers */
static uint64_t published[N_TENANTS][N_TAGS]; /* highest version whose invalidation is done */
static int stop_flag;

typedef struct {
    unsigned seed;
    uint64_t ops, hits, wrong_tenant, stale, puts;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    cn_buf_t b = {0};
    char *value = malloc(VALUE_LEN);
    while (!__atomic_load_n(&stop_flag, __ATOMIC_RELAXED)) {
        unsigned t = (unsigned)rand_r(&w->seed) % N_TENANTS;
        unsigned k = (unsigned)rand_r(&w->seed) % N_KEYS;
        unsigned g = k % N_TAGS;
        char tenant[24], key[24], tag[24];
        snprintf(tenant, sizeof(tenant), "tenant-%u", t);
        snprintf(key, sizeof(key), "k%u", k);
        snprintf(tag, sizeof(tag), "tag%u", g);
        const char *const tags[] = {tag, NULL};
        w->ops++;
        if (rand_r(&w->seed) % 10 == 0) { /* a write: change the data, then invalidate */
            uint64_t v = __atomic_add_fetch(&version[t][g], 1, __ATOMIC_SEQ_CST);
            cn_cache_invalidate(tenant, tag);
            uint64_t p = __atomic_load_n(&published[t][g], __ATOMIC_SEQ_CST);
            while (p < v && !__atomic_compare_exchange_n(&published[t][g], &p, v, 0,
                                                         __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
                ;
            continue;
        }
        uint64_t floor = __atomic_load_n(&published[t][g], __ATOMIC_SEQ_CST);
        cn_cache_token_t tok;
        b.len = 0;
        if (cn_cache_get(tenant, key, tags, &b, &tok)) {
            w->hits++;
            char prefix[40];
            int n = snprintf(prefix, sizeof(prefix), "%s|%s|", tenant, key);
            if (b.len != VALUE_LEN || memcmp(b.data, prefix, (size_t)n) != 0) {
                w->wrong_tenant++;
                continue;
            }
            char num[24];
            size_t i = 0;
            while (i < sizeof(num) - 1 && b.data[n + (int)i] != '|') {
                num[i] = b.data[n + (int)i];
                i++;
            }
            num[i] = '\0';
            if (strtoull(num, NULL, 10) < floor)
                w->stale++;
            continue;
        }
        /* compute from the data as it is now (after the token), then store */
        uint64_t v = __atomic_load_n(&version[t][g], __ATOMIC_SEQ_CST);
        memset(value, 'x', VALUE_LEN);
        int n = snprintf(value, VALUE_LEN, "%s|%s|%llu|", tenant, key, (unsigned long long)v);
        value[n] = 'x';
        int64_t ttl = rand_r(&w->seed) % 8 == 0 ? 2 : 0;
        if (cn_cache_put(tenant, key, &tok, value, VALUE_LEN, ttl) == 0)
            w->puts++;
    }
    free(value);
    cn_buf_free(&b);
    return NULL;
}

static void test_concurrent_threads(void **state)
{
    cn__cache_set_clock(NULL);
    cn_cache_init(4 << 20, 60000); /* 4 shards; the working set is larger: evictions */
    memset(version, 0, sizeof(version));
    memset(published, 0, sizeof(published));
    stop_flag = 0;
    worker_t w[4] = {{.seed = 1}, {.seed = 2}, {.seed = 3}, {.seed = 4}};
    pthread_t tid[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&tid[i], NULL, worker_main, &w[i]), 0);
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
    uint64_t ops = 0, hits = 0, puts = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(w[i].wrong_tenant, 0);
        assert_int_equal(w[i].stale, 0);
        ops += w[i].ops;
        hits += w[i].hits;
        puts += w[i].puts;
    }
    cn_cache_stats_t s;
    cn_cache_stats(&s);
    print_message("%llu ops, %llu hits, %llu puts, %llu evictions, %llu expired, %llu "
                  "invalidations, %llu entries, %llu bytes\n",
                  (unsigned long long)ops, (unsigned long long)hits, (unsigned long long)puts,
                  (unsigned long long)s.evictions, (unsigned long long)s.expired,
                  (unsigned long long)s.invalidations, (unsigned long long)s.entries,
                  (unsigned long long)s.bytes);
    assert_true(hits > 0 && puts > 0);
    assert_int_equal(s.hits, hits);
    assert_true(s.evictions > 0);
    assert_true(s.invalidations > 0);
    assert_true(s.bytes <= 4 << 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hit_and_miss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_with_real_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalidation_by_tag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_before_invalidation_is_not_served, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_cross_tenant_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalidation_is_per_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lru_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_tail_counts_as_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shards_follow_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_and_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_text, setup, teardown),
        cmocka_unit_test(test_key_for_request),
        cmocka_unit_test_setup_teardown(test_concurrent_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
