/*
 * Process-wide helpers: the allocation wrappers (one place aborts on out-of-memory),
 * clocks, the buffered CSPRNG and UUIDv7 generation. Nothing here may block for long.
 */
#include "base/common.h"
#include "lib/formats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int cn_err_set(cn_err_t *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

static void oom(size_t n)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"out of memory allocating %zu bytes\"}\n", n);
    abort();
}

void *cn_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *cn_calloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p == NULL)
        oom(count * n);
    return p;
}

void *cn_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *cn_strndup(const char *s, size_t n)
{
    char *p = cn_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *cn_strdup(const char *s)
{
    return cn_strndup(s, strlen(s));
}

uint64_t cn_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t cn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One getrandom() per 4 KiB of entropy instead of one per id. */
static _Thread_local struct {
    uint8_t buf[4096];
    size_t left;
} rng;

void cn_random(void *out, size_t len)
{
    uint8_t *p = out;
    while (len > 0) {
        if (rng.left == 0) {
            size_t got = 0;
            while (got < sizeof(rng.buf)) {
                ssize_t n = getrandom(rng.buf + got, sizeof(rng.buf) - got, 0);
                if (n < 0)
                    continue; /* EINTR; the kernel CSPRNG does not fail otherwise */
                got += (size_t)n;
            }
            rng.left = sizeof(rng.buf);
        }
        size_t take = len < rng.left ? len : rng.left;
        uint8_t *src = rng.buf + sizeof(rng.buf) - rng.left;
        memcpy(p, src, take);
        memset(src, 0, take); /* bytes handed out are not kept around */
        rng.left -= take;
        p += take;
        len -= take;
    }
}

/*
 * RFC 9562 method 1: the 12-bit rand_a field counts ids made within one millisecond. One
 * process-wide atomic holds (ms << 12 | counter) of the last id, so every id is greater
 * than the one before it on any thread: "newest first" is exact. A new millisecond starts
 * the counter at a random value below 2048; a full counter borrows the next millisecond.
 */
static uint64_t uuid_clock; /* ms << 12 | seq of the last id issued */

void cn_uuid7(char out[37])
{
    uint8_t r[10];
    cn_random(r, sizeof(r));
    uint64_t start = (uint64_t)(((r[0] << 8) | r[1]) & 0x7ff);
    uint64_t now = (uint64_t)cn_now_ms() << 12 | start;
    uint64_t last = __atomic_load_n(&uuid_clock, __ATOMIC_RELAXED), next;
    do {
        next = now > last ? now : last + 1;
    } while (!__atomic_compare_exchange_n(&uuid_clock, &last, next, 1, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    r[0] = (uint8_t)((next >> 8) & 0x0f);
    r[1] = (uint8_t)(next & 0xff);
    cn_uuid7_format((int64_t)(next >> 12), r, out);
}
