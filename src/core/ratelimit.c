/*
 * Rate limiter (see ratelimit.h). 64 shards, each a small open-addressing table under its
 * own mutex; tokens are kept in thousandths so refill needs no floating point.
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

typedef struct {
    char key[KEY_MAX];
    int64_t milli_tokens;
    int64_t updated_ms; /* 0 = empty */
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

void cn_ratelimit_take(cn_ratelimit_t *rl, const char *key, int64_t now_ms, cn_rate_result_t *out)
{
    char fitted[KEY_MAX];
    if (strlen(key) >= KEY_MAX) { /* a stored key must compare equal to the next lookup */
        snprintf(fitted, sizeof(fitted), "#%016llx", (unsigned long long)cn_hash_str(key));
        key = fitted;
    }
    const int64_t full = (int64_t)rl->per_min * 1000;
    uint64_t h = cn_hash_str(key);
    shard_t *sh = &rl->shards[(h >> 32) % SHARDS];
    pthread_mutex_lock(&sh->lock);
    int fresh;
    bucket_t *b = find(sh, h, key, &fresh);
    if (fresh) {
        snprintf(b->key, KEY_MAX, "%s", key);
        b->milli_tokens = full;
    } else if (now_ms > b->updated_ms) {
        /* per_min tokens per 60 000 ms: per_min/60 thousandths of a token per ms */
        b->milli_tokens += (now_ms - b->updated_ms) * rl->per_min / 60;
        if (b->milli_tokens > full)
            b->milli_tokens = full;
    }
    b->updated_ms = now_ms > 0 ? now_ms : 1;
    out->allowed = b->milli_tokens >= 1000;
    if (out->allowed)
        b->milli_tokens -= 1000;
    int64_t tokens = b->milli_tokens;
    pthread_mutex_unlock(&sh->lock);
    out->limit = rl->per_min;
    out->remaining = (int)(tokens / 1000);
    int64_t per_ms = rl->per_min; /* thousandths refilled per 60 ms */
    out->reset_s = (int)(((full - tokens) * 60 / per_ms + 999) / 1000);
    out->retry_after_s = out->allowed ? 0 : (int)(((1000 - tokens) * 60 / per_ms + 999) / 1000);
    if (!out->allowed && out->retry_after_s < 1)
        out->retry_after_s = 1;
}
