/*
 * Token-bucket rate limits shared by all loop threads of the process. A bucket per key
 * ("ip:10.0.0.7", "sub:<user id>") holds up to `per_min` tokens and refills continuously;
 * a request takes one. The table is bounded: when a shard is full, the least recently
 * used bucket is recycled, so memory never grows with the number of clients.
 */
#ifndef CAIRN_CORE_RATELIMIT_H
#define CAIRN_CORE_RATELIMIT_H

#include "base/common.h"

typedef struct st_cn_ratelimit_t cn_ratelimit_t;

/** A limiter allowing per_min requests per key per minute (bursts up to per_min). */
cn_ratelimit_t *cn_ratelimit_new(int per_min);
void cn_ratelimit_free(cn_ratelimit_t *rl);

typedef struct st_cn_rate_result_t {
    int allowed;
    int limit;
    int remaining;
    int reset_s;       /* seconds until the bucket is full again */
    int retry_after_s; /* when denied: seconds until one token is back */
} cn_rate_result_t;

/**
 * Takes one token from key's bucket at time now_ms (the server passes cn_now_ms(); tests
 * their own clock). Safe from any thread. A time earlier than the bucket's last update, as
 * when another thread read the clock first but took the lock later, counts as that update.
 */
void cn_ratelimit_take(cn_ratelimit_t *rl, const char *key, int64_t now_ms, cn_rate_result_t *out);

#endif
