/*
 * Rate limiter (see ratelimit.h). 64 shards, each a small open-addressing table under its
 * own mutex. Tokens are kept in parts of 1/60 000: per_min tokens a minute is then exactly
 * per_min parts a millisecond, so refill needs no floating point and loses no remainder,
 * however often a key asks.
 */
#include "core/ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 64
#define SLOTS 1024  /* per shard: 65536 keys in all */
#define KEY_MAX 192 /* "user:<tenant id>/key:<id>" is 82; longer keys are never truncated */
#define PROBE 16
#define PARTS 60000          /* one token */
#define FULL_REFILL_MS 60000 /* an empty bucket is full again after a minute */

typedef struct {
    char key[KEY_MAX];
    int64_t parts;
    int64_t updated_ms; /* 0 = empty; never moves back */
} bucket_t;

typedef struct {
    pthread_mutex_t lock;
    bucket_t slots[SLOTS];
} shard_t;

struct st_cn_ratelimit_t {
    int per_min;
    shard_t *shards;
};

cn_ratelimit_t *cn_ratelimit_new(int per_min)
{
    cn_ratelimit_t *rl = cn_calloc(1, sizeof(*rl));
    rl->per_min = per_min;
    rl->shards = cn_calloc(SHARDS, sizeof(shard_t));
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&rl->shards[i].lock, NULL);
    return rl;
}

void cn_ratelimit_free(cn_ratelimit_t *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_destroy(&rl->shards[i].lock);
    free(rl->shards);
    free(rl);
}

/*
 * The key's hash with its bits mixed (MurmurHash3's 64-bit finaliser). FNV-1a alone leaves
 * the high bits, which pick the shard, alike for keys that differ only at the end
 * ("ip:10.0.0.1", "ip:10.0.0.2", ...): a run of such keys filled a few shards and left
 * others empty, so the table remembered far fewer than its 65 536 keys.
 */
static uint64_t key_hash(const char *key)
{
    return cn_hash_mix(cn_hash_str(key));
}

/* The key's bucket, or the least recently used of its probe window (recycled). */
static bucket_t *find(shard_t *sh, uint64_t h, const char *key, int *fresh)
{
    bucket_t *oldest = NULL;
    for (int i = 0; i < PROBE; i++) {
        bucket_t *b = &sh->slots[(h + (uint64_t)i) % SLOTS];
        if (b->updated_ms != 0 && strcmp(b->key, key) == 0)
            return *fresh = 0, b;
        if (oldest == NULL || b->updated_ms < oldest->updated_ms)
            oldest = b;
    }
    *fresh = 1;
    return oldest;
}

/* Adds the parts refilled since b was last updated; time read late by another thread
 * (before it took the lock) neither refills nor moves the bucket back. */
static void refill(bucket_t *b, int per_min, int64_t now_ms)
{
    if (now_ms <= b->updated_ms)
        return;
    int64_t elapsed = now_ms - b->updated_ms;
    if (elapsed > FULL_REFILL_MS) /* full anyway; keeps the product below in range */
        elapsed = FULL_REFILL_MS;
    b->parts += elapsed * per_min;
    if (b->parts > (int64_t)per_min * PARTS)
        b->parts = (int64_t)per_min * PARTS;
    b->updated_ms = now_ms;
}

void cn_ratelimit_take(cn_ratelimit_t *rl, const char *key, int64_t now_ms, cn_rate_result_t *out)
{
    char fitted[KEY_MAX];
    if (strlen(key) >= KEY_MAX) { /* a stored key must compare equal to the next lookup */
        snprintf(fitted, sizeof(fitted), "#%016llx", (unsigned long long)cn_hash_str(key));
        key = fitted;
    }
    const int64_t full = (int64_t)rl->per_min * PARTS;
    uint64_t h = key_hash(key);
    shard_t *sh = &rl->shards[(h >> 32) % SHARDS];
    pthread_mutex_lock(&sh->lock);
    int fresh;
    bucket_t *b = find(sh, h, key, &fresh);
    if (fresh) {
        snprintf(b->key, KEY_MAX, "%s", key);
        b->parts = full;
        b->updated_ms = now_ms > 0 ? now_ms : 1;
    } else {
        refill(b, rl->per_min, now_ms);
    }
    out->allowed = b->parts >= PARTS;
    if (out->allowed)
        b->parts -= PARTS;
    int64_t parts = b->parts;
    pthread_mutex_unlock(&sh->lock);
    const int64_t per_s = (int64_t)rl->per_min * 1000; /* parts refilled per second */
    out->limit = rl->per_min;
    out->remaining = (int)(parts / PARTS);
    out->reset_s = (int)((full - parts + per_s - 1) / per_s);
    out->retry_after_s = out->allowed ? 0 : (int)((PARTS - parts + per_s - 1) / per_s);
    if (!out->allowed && out->retry_after_s < 1)
        out->retry_after_s = 1;
}
