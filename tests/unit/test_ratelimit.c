/*
 * Unit tests for the token-bucket rate limiter (src/core/ratelimit.c): bursts, refill at
 * exactly per_min a minute however often a key asks, time read out of order by threads,
 * keys longer than a slot, the LRU recycling of the bounded table, and exact counts under
 * concurrent takes. The clock is the now_ms argument, so nothing here sleeps. The source
 * is included to reach the table's geometry (shards, slots, probe window).
 */
#include "core/ratelimit.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static cn_rate_result_t take(cn_ratelimit_t *rl, const char *key, int64_t now_ms)
{
    cn_rate_result_t res;
    memset(&res, 0xff, sizeof(res)); /* every field must be written */
    cn_ratelimit_take(rl, key, now_ms, &res);
    return res;
}

/* Takes n tokens at now_ms; returns how many were allowed. */
static int take_n(cn_ratelimit_t *rl, const char *key, int64_t now_ms, int n)
{
    int allowed = 0;
    for (int i = 0; i < n; i++)
        allowed += take(rl, key, now_ms).allowed;
    return allowed;
}

/* A new key starts full: per_min back to back, then a refusal that says when to retry. */
static void test_burst_then_refusal(void **state)
{
    cn_ratelimit_t *rl = cn_ratelimit_new(10);
    cn_rate_result_t r = take(rl, "ip:10.0.0.7", 5000);
    assert_int_equal(r.allowed, 1);
    assert_int_equal(r.limit, 10);
    assert_int_equal(r.remaining, 9);
    assert_int_equal(r.reset_s, 6); /* one token comes back every 6 s */
    assert_int_equal(r.retry_after_s, 0);
    for (int i = 8; i >= 0; i--) {
        r = take(rl, "ip:10.0.0.7", 5000);
        assert_int_equal(r.allowed, 1);
        assert_int_equal(r.remaining, i);
    }
    r = take(rl, "ip:10.0.0.7", 5000);
    assert_int_equal(r.allowed, 0);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.retry_after_s, 6);
    assert_int_equal(r.reset_s, 60);
    /* another key has its own bucket */
    assert_int_equal(take(rl, "ip:10.0.0.8", 5000).remaining, 9);
    cn_ratelimit_free(rl);
}

/* One token per 60 000 / per_min ms, to the millisecond, and never more than a burst. */
static void test_refill_rate_and_cap(void **state)
{
    cn_ratelimit_t *rl = cn_ratelimit_new(10);
    assert_int_equal(take_n(rl, "k", 1000, 10), 10);
    assert_int_equal(take(rl, "k", 1000 + 5999).allowed, 0);
    cn_rate_result_t r = take(rl, "k", 1000 + 6000);
    assert_int_equal(r.allowed, 1);
    assert_int_equal(r.remaining, 0);
    /* an hour idle refills the burst, not sixty of them */
    assert_int_equal(take_n(rl, "k", 3600000, 11), 10);
    cn_ratelimit_free(rl);
}

/* A client that asks every millisecond refills as fast as one that asks once a minute
 * (rounding the refill of each 1 ms step down to whole thousandths of a token gave it
 * none at 10 a minute). */
static void test_refill_independent_of_polling(void **state)
{
    static const int rates[] = {5, 10, 100, 1000, 7};
    for (size_t i = 0; i < CN_ARRAY_SIZE(rates); i++) {
        cn_ratelimit_t *rl = cn_ratelimit_new(rates[i]);
        assert_int_equal(take_n(rl, "hammer", 1, rates[i]), rates[i]);
        int allowed = 0;
        for (int64_t t = 2; t <= 1 + 60000; t++)
            allowed += take(rl, "hammer", t).allowed;
        assert_int_equal(allowed, rates[i]); /* exactly per_min in the next minute */
        cn_ratelimit_free(rl);
    }
}

/* Threads read the clock before they take the shard's lock, so times arrive out of order;
 * an earlier time must not move the bucket back and refill the same interval twice. */
static void test_time_out_of_order(void **state)
{
    cn_ratelimit_t *rl = cn_ratelimit_new(60); /* one token a second */
    assert_int_equal(take_n(rl, "k", 10000, 60), 60);
    assert_int_equal(take(rl, "k", 5000).allowed, 0);
    cn_rate_result_t r = take(rl, "k", 11000); /* one second after the drain: one token */
    assert_int_equal(r.allowed, 1);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(take(rl, "k", 11000).allowed, 0);
    cn_ratelimit_free(rl);
}

/* Keys longer than a slot are stored as their hash: still one bucket per key. */
static void test_long_keys(void **state)
{
    char a[400], b[400];
    memset(a, 'a', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(b));
    b[sizeof(b) - 2] = 'b';
    cn_ratelimit_t *rl = cn_ratelimit_new(3);
    assert_int_equal(take_n(rl, a, 100, 4), 3);
    assert_int_equal(take(rl, b, 100).remaining, 2);
    assert_int_equal(take(rl, a, 100).allowed, 0);
    cn_ratelimit_free(rl);
}

static uint64_t home_of(const char *key)
{
    uint64_t h = key_hash(key);
    return ((h >> 32) % SHARDS) * SLOTS + h % SLOTS; /* shard and first slot probed */
}

/* When a key's probe window is full, the least recently used bucket in it is recycled:
 * that key is forgotten (starts full again), the others keep their counts. */
static void test_lru_recycling(void **state)
{
    char keys[PROBE + 1][24];
    int n = 0;
    snprintf(keys[n++], sizeof(keys[0]), "k0");
    uint64_t home = home_of("k0");
    for (int i = 1; n < PROBE + 1; i++) {
        char k[24];
        snprintf(k, sizeof(k), "k%d", i);
        if (home_of(k) == home)
            snprintf(keys[n++], sizeof(keys[0]), "%s", k);
    }
    cn_ratelimit_t *rl = cn_ratelimit_new(5);
    for (int i = 0; i < PROBE; i++) /* fills the window, key i used at time i + 1 */
        assert_int_equal(take(rl, keys[i], i + 1).remaining, 4);
    assert_int_equal(take(rl, keys[0], 17).remaining, 3);         /* keys[1] is now the oldest */
    assert_int_equal(take(rl, keys[PROBE], 18).remaining, 4);     /* recycles keys[1] */
    assert_int_equal(take(rl, keys[1], 19).remaining, 4);         /* forgotten */
    assert_int_equal(take(rl, keys[0], 20).remaining, 2);         /* kept */
    assert_int_equal(take(rl, keys[PROBE], 21).remaining, 3);     /* kept */
    assert_int_equal(take(rl, keys[PROBE - 1], 22).remaining, 3); /* kept */
    cn_ratelimit_free(rl);
}

/* A flood of distinct keys that differ only at the end (clients rotating addresses) spreads
 * over the whole table: it fills (nearly) all 65 536 buckets, the newest keys are remembered
 * and the first forgotten. */
static void test_table_is_bounded(void **state)
{
    enum { FLOOD = 100000 };
    cn_ratelimit_t *rl = cn_ratelimit_new(5);
    char k[24];
    for (int i = 0; i < FLOOD; i++) {
        snprintf(k, sizeof(k), "ip:%d", i);
        take(rl, k, 1 + i);
    }
    size_t used = 0;
    for (int s = 0; s < SHARDS; s++)
        for (int i = 0; i < SLOTS; i++)
            used += rl->shards[s].slots[i].updated_ms != 0;
    assert_in_range(used, 65536 * 99 / 100, 65536);
    snprintf(k, sizeof(k), "ip:%d", FLOOD - 1);
    assert_int_equal(take(rl, k, FLOOD + 1).remaining, 3);
    assert_int_equal(take(rl, "ip:0", FLOOD + 2).remaining, 4);
    cn_ratelimit_free(rl);
}

enum { THREADS = 4, SHARED_TAKES = 500, OWN_TAKES = 300 };

typedef struct {
    cn_ratelimit_t *rl;
    int id;
    int shared_allowed, own_allowed;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    char own[16];
    snprintf(own, sizeof(own), "own:%d", w->id);
    for (int i = 0; i < SHARED_TAKES; i++) { /* interleaved, so the shards are contended */
        w->shared_allowed += take(w->rl, "shared", 1000).allowed;
        if (i < OWN_TAKES)
            w->own_allowed += take(w->rl, own, 1000).allowed;
    }
    return NULL;
}

/* Concurrent takes on one key never hand out more (or fewer) tokens than the bucket has. */
static void test_concurrent_takes_are_exact(void **state)
{
    cn_ratelimit_t *rl = cn_ratelimit_new(1000);
    pthread_t t[THREADS];
    worker_t w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){rl, i, 0, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
    }
    int shared = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        shared += w[i].shared_allowed;
        assert_int_equal(w[i].own_allowed, OWN_TAKES);
    }
    assert_int_equal(shared, 1000); /* 2000 asked for, the bucket held 1000 */
    assert_int_equal(take(rl, "shared", 1000).allowed, 0);
    cn_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refusal),
        cmocka_unit_test(test_refill_rate_and_cap),
        cmocka_unit_test(test_refill_independent_of_polling),
        cmocka_unit_test(test_time_out_of_order),
        cmocka_unit_test(test_long_keys),
        cmocka_unit_test(test_lru_recycling),
        cmocka_unit_test(test_table_is_bounded),
        cmocka_unit_test(test_concurrent_takes_are_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
