/*
 * In-process response cache shared by every loop thread: opaque values (a response body)
 * under a tenant-scoped key, bounded in bytes (LRU per shard), each with a TTL and up to
 * CN_CACHE_MAX_TAGS invalidation tags. A tenant is always part of the key, so an entry
 * is never served across tenants. Invalidation bumps a (tenant, tag) generation; entries
 * remember the generations of their tags from *before* their value was computed, so a
 * value computed from data older than an invalidation is never served after it.
 *
 * The protocol, for every caller:
 *   1. cn_cache_get(): a hit appends the value to out; a miss fills a token;
 *   2. compute the value from data read AFTER that (a fresh read transaction);
 *   3. cn_cache_put() with that token;
 * and whoever changes data calls cn_cache_invalidate() for each tag it affects, after
 * the change is committed. Never store a value read inside an open write batch: it may
 * roll back without any invalidation. cache.c never reads the store or includes h2o; the
 * request-level helpers (cn_cache_key_for, cn_cache_request) live in cachekey.c.
 */
#ifndef CAIRN_CORE_CACHE_H
#define CAIRN_CORE_CACHE_H

#include "core/json.h"
#include "core/router.h"

#define CN_CACHE_MAX_TAGS 4
/** Longest key cn_cache_key_for() builds; longer requests are not cacheable. */
#define CN_CACHE_KEY_MAX 1024

/**
 * Tag generations captured on a miss (or by cn_cache_token), before the value was
 * computed. Fill it only through the API; its fields are private to cache.c.
 */
typedef struct st_cn_cache_token_t {
    uint64_t tenant_hash; /* binds the token to the tenant it was taken for */
    uint64_t gen[CN_CACHE_MAX_TAGS];
    uint64_t era; /* the cache's era: it moves when the cluster bus goes or comes back */
    uint32_t slot[CN_CACHE_MAX_TAGS];
    uint32_t n_tags;
    int usable; /* 0: the cache is off or the arguments were bad; put ignores it */
} cn_cache_token_t;

/** Counters and gauges, summed over the shards. */
typedef struct st_cn_cache_stats_t {
    uint64_t hits, misses;
    uint64_t evictions;     /* dropped from the LRU tail to make room */
    uint64_t expired;       /* dropped because their TTL passed */
    uint64_t invalidations; /* cn_cache_invalidate calls */
    uint64_t entries, bytes;
    int64_t max_bytes;
    unsigned n_shards;
} cn_cache_stats_t;

/**
 * Creates the process-wide cache: max_bytes in all (0 disables it: every get misses and
 * every put is ignored), default_ttl_ms for puts that pass 0. Budgets under 16 MiB get
 * fewer shards (at least 1 MiB each, down to one). Call before any thread uses it; a
 * second call replaces the cache (tests).
 */
void cn_cache_init(int64_t max_bytes, int default_ttl_ms);

/** Frees every entry and the tag table. Call after the threads using it have stopped. */
void cn_cache_free(void);

/**
 * Looks key up in tenant's namespace. tags is a NULL-terminated array of at most
 * CN_CACHE_MAX_TAGS tags the value depends on (NULL for none); it is read on a miss only,
 * to fill token. Returns CN_CACHE_HIT on a hit (the value appended to out, token
 * untouched), 0 on a miss (token filled; pass it to cn_cache_put). An empty tenant, a
 * tenant holding '\n', too many tags or a disabled cache is a miss whose token put ignores.
 */
int cn_cache_get(const char *tenant, const char *key, const char *const *tags, cn_buf_t *out,
                 cn_cache_token_t *token);

/**
 * Captures tenant's tag generations without a lookup, for callers that compute first and
 * store later. Returns 0, or CN_EINVAL (token unusable) for the argument problems above.
 */
int cn_cache_token(const char *tenant, const char *const *tags, cn_cache_token_t *token);

/**
 * Stores len bytes of value under (tenant, key), replacing an older entry, with the tag
 * generations from token (taken for the same tenant before the value was computed).
 * ttl_ms 0 means cache.ttl_ms. Returns 0 when stored; CN_ECONFLICT when a tag was
 * invalidated since the token was taken (nothing stored); CN_EINVAL when the cache is off,
 * the token is unusable or belongs to another tenant, ttl_ms is negative, or the entry is
 * larger than a quarter of a shard's share of cache.max_bytes.
 */
int cn_cache_put(const char *tenant, const char *key, const cn_cache_token_t *token,
                 const void *value, size_t len, int64_t ttl_ms);

/**
 * Invalidates tag in tenant: every entry of that tenant stored with a token taken before
 * this call becomes a miss (freed when next looked up, or evicted). O(1), lock-free; other
 * tenants' entries are not affected (a rare hash collision of two (tenant, tag) pairs only
 * costs extra misses, never a stale hit). On a cluster bus every other node invalidates
 * the same tag when the message reaches it.
 */
void cn_cache_invalidate(const char *tenant, const char *tag);

/**
 * The kernel, at start: takes other nodes' invalidations from bus (NULL: none), and while
 * bus is disconnected neither serves nor stores anything; on every change of connection
 * everything stored before becomes a miss (invalidations may have been lost meanwhile).
 */
struct st_cn_bus_t;
CN_MUST_CHECK int cn_cache_attach_bus(struct st_cn_bus_t *bus, cn_err_t *err);

/** Reads the counters (each shard locked in turn). */
void cn_cache_stats(cn_cache_stats_t *out);

/** Appends the cairn_cache_* series in Prometheus text format (zeros when off). */
void cn_cache_render_metrics(cn_buf_t *out);

/**
 * Builds the normalised cache key of a matched request: the route's method and template,
 * its path parameters in template order and its validated query parameters sorted by name,
 * as one JSON-style array (["GET","/api/v1/notes/{id}",{"id":"…"},{"limit":5}]) whose
 * escaping is injective (bytes that are not UTF-8 are kept, not replaced), so "?b=2&a=1"
 * and "?a=1&b=02" (b an integer in the schema) share a key and no value can forge a
 * separator. The tenant is not in it (the cache adds it); anything else the answer
 * depends on (the caller's role or subject, a header) must be appended by the caller.
 * Returns 0, or CN_EINVAL when the key would not fit in cap bytes (do not cache that
 * request). Lives in cachekey.c.
 */
int cn_cache_key_for(cn_req_t *r, char *buf, size_t cap);

/** A read request's answer on its way through the cache (cn_cache_request, cn_cache_answer). */
typedef struct st_cn_cached_req_t {
    char key[CN_CACHE_KEY_MAX];
    cn_cache_token_t token;
    int cacheable;
} cn_cached_req_t;

/**
 * The protocol above for a read handler (in cachekey.c): returns CN_CACHE_HIT when the
 * cached answer is in cn_reply_buffer(r) (send it); 0 when the handler computes it, from a
 * fresh read transaction, then passes it to cn_cache_answer. Inside an open write batch
 * nothing is cached. Sets x-cache: hit or miss.
 */
int cn_cache_request(cn_req_t *r, const char *const *tags, cn_cached_req_t *c);
/** Stores the computed answer (ttl_ms 0: cache.ttl_ms) when the request was cacheable. */
void cn_cache_answer(cn_req_t *r, const cn_cached_req_t *c, const cn_buf_t *body, int64_t ttl_ms);

/** Replaces the millisecond clock used for TTLs (tests); NULL restores the monotonic one. */
void cn__cache_set_clock(int64_t (*now_ms)(void));

#endif
