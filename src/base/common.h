/*
 * Shared kernel vocabulary: return values (status.h), the error context object and the
 * allocation wrappers. Every layer above lib/ returns 0, a negative error code or one of
 * status.h's named outcomes and leaves a human message in a cn_err_t; only http.c turns
 * codes into HTTP statuses.
 */
#ifndef CAIRN_BASE_COMMON_H
#define CAIRN_BASE_COMMON_H

#include "base/status.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/** Error context: a code and a message for humans (operators or API clients). */
typedef struct st_cn_err_t {
    int code;
    char msg[512];
} cn_err_t;

/** Sets err (if non-NULL) and returns code, so callers can `return cn_err_set(...)`. */
int cn_err_set(cn_err_t *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** Allocation that never returns NULL: out of memory aborts the process with a message. */
void *cn_malloc(size_t n);
void *cn_calloc(size_t count, size_t n);
void *cn_realloc(void *p, size_t n);
char *cn_strdup(const char *s);
char *cn_strndup(const char *s, size_t n);

/** Monotonic clock in nanoseconds, and wall clock in Unix milliseconds. */
uint64_t cn_now_ns(void);
int64_t cn_now_ms(void);

/** Fills buf with cryptographically strong random bytes (per-thread buffered getrandom). */
void cn_random(void *buf, size_t len);

/** Writes a fresh UUIDv7 into out (37 bytes). */
void cn_uuid7(char out[37]);

#define CN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/**
 * Marks a function whose result must be looked at (a store call that can fail): ignoring it
 * is a compile error under -Werror. Where ignoring is right, say why and pass the result to
 * cn_ignore(): GCC warns even through a (void) cast.
 */
#define CN_MUST_CHECK __attribute__((warn_unused_result))

/** Discards a CN_MUST_CHECK result on purpose; the call site says why. */
static inline void cn_ignore(int rc)
{
    (void)rc;
}

/* FNV-1a, the hash of every in-process table: fast on short keys, not for adversaries
 * who choose keys to collide (tables bound their probes or chains instead). */
#define CN_FNV_OFFSET 1469598103934665603ull

/** Continues an FNV-1a hash h (start from CN_FNV_OFFSET) over n bytes. */
static inline uint64_t cn_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/** FNV-1a of a NUL-terminated string. */
static inline uint64_t cn_hash_str(const char *s)
{
    uint64_t h = CN_FNV_OFFSET;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/** A 64-bit finaliser (MurmurHash3's fmix64) for FNV-1a results that pick a shard: without
 *  it, keys alike but for their end ("ip:10.0.0.1", "ip:10.0.0.2") crowd a few shards. */
static inline uint64_t cn_hash_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

#endif
