/*
 * Response cache (see cache.h). Up to 16 shards chosen by key hash, each a chained hash
 * table plus a doubly linked LRU list under its own mutex, with an equal share of the
 * byte budget. Tag generations live apart from the shards in one fixed table of atomic
 * counters indexed by hash(tenant, tag): invalidation is one atomic increment, a lookup
 * compares at most four loads, and the table never grows. Two (tenant, tag) pairs that
 * share a counter only invalidate each other's entries too often, never too rarely,
 * because a counter only goes up. Nothing here may include h2o or touch the store.
 */
#include "core/cache.h"
#include "core/bus.h"
#include "core/metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 16
#define MIN_SHARD_BYTES (1 << 20) /* smaller budgets get fewer shards */
#define TAG_SLOTS (1u << 16)      /* 512 KiB of generation counters */
#define FIRST_BUCKETS 64

/* One cached value. Owned by its shard from insertion until it is unlinked. */
typedef struct st_entry_t {
    struct st_entry_t *chain;       /* next in the hash bucket (or in a dead list) */
    struct st_entry_t *prev, *next; /* LRU: head is the most recently used */
    uint64_t hash;
    int64_t expires_ms;
    uint64_t gen[CN_CACHE_MAX_TAGS];
    uint64_t era; /* cache_state.era when its token was taken */
    uint32_t slot[CN_CACHE_MAX_TAGS];
    uint32_t n_tags;
    size_t key_len; /* tenant + '\n' + key, not NUL-terminated */
    size_t val_len;
    size_t size; /* bytes charged against the budget */
    char data[]; /* the full key, then the value */
} entry_t;

typedef struct {
    _Alignas(64) pthread_mutex_t lock; /* guards everything below */
    entry_t **buckets;
    size_t n_buckets; /* a power of two */
    entry_t *head, *tail;
    size_t n_entries, bytes, budget;
    uint64_t hits, misses, evictions, expired;
} shard_t;

static shard_t shards[MAX_SHARDS];

/* Set by cn_cache_init before any thread uses the cache, read-only afterwards. */
static struct {
    int ready; /* shards' mutexes and the tag table exist */
    int on;
    unsigned n_shards;
    int64_t max_bytes;
    int64_t default_ttl_ms;
    uint64_t seed;
    uint64_t *gens; /* TAG_SLOTS counters, atomic */
    uint64_t invalidations;
    /* atomic; moves when the cluster bus goes or comes back: invalidations of other nodes
     * may have been lost meanwhile, so everything stored before is a miss */
    uint64_t era;
} cache_state;

static int64_t mono_ms(void)
{
    return (int64_t)(cn_now_ns() / 1000000u);
}

static int64_t (*clock_ms)(void) = mono_ms;

void cn__cache_set_clock(int64_t (*now_ms)(void))
{
    clock_ms = now_ms != NULL ? now_ms : mono_ms;
}

/* FNV-1a over a, '\n', b, then a 64-bit finaliser so low and high bits both mix well. */
static uint64_t hash2(uint64_t seed, const char *a, size_t a_len, const char *b, size_t b_len)
{
    uint64_t h = cn_fnv1a(cn_fnv1a(CN_FNV_OFFSET ^ seed, a, a_len), "\n", 1);
    return cn_hash_mix(cn_fnv1a(h, b, b_len));
}

#define SEED_KEY 0
#define SEED_TAG 0x9e3779b97f4a7c15ull
#define SEED_TENANT 0x632be59bd9b4e019ull

/* A tenant must be non-empty and free of '\n', so "tenant\nkey" splits one way only. */
static int tenant_ok(const char *tenant, size_t *len)
{
    if (tenant == NULL || tenant[0] == '\0' || strchr(tenant, '\n') != NULL)
        return 0;
    *len = strlen(tenant);
    return 1;
}

static shard_t *shard_for(uint64_t h)
{
    return &shards[(h >> 48) & (cache_state.n_shards - 1)];
}

static uint64_t *gen_slot(uint32_t slot)
{
    return &cache_state.gens[slot];
}

static uint64_t era_now(void)
{
    return __atomic_load_n(&cache_state.era, __ATOMIC_ACQUIRE);
}

static int entry_is_current(const entry_t *e)
{
    if (e->era != era_now())
        return 0;
    for (uint32_t i = 0; i < e->n_tags; i++)
        if (__atomic_load_n(gen_slot(e->slot[i]), __ATOMIC_ACQUIRE) != e->gen[i])
            return 0;
    return 1;
}

static int token_is_current(const cn_cache_token_t *t)
{
    if (t->era != era_now())
        return 0;
    for (uint32_t i = 0; i < t->n_tags; i++)
        if (__atomic_load_n(gen_slot(t->slot[i]), __ATOMIC_ACQUIRE) != t->gen[i])
            return 0;
    return 1;
}

/* The link that points at the entry for the key (or at NULL where it would go). */
static entry_t **find(shard_t *sh, uint64_t h, const char *tenant, size_t t_len, const char *key,
                      size_t k_len)
{
    entry_t **pp = &sh->buckets[h & (sh->n_buckets - 1)];
    for (; *pp != NULL; pp = &(*pp)->chain) {
        const entry_t *e = *pp;
        if (e->hash == h && e->key_len == t_len + 1 + k_len &&
            memcmp(e->data, tenant, t_len) == 0 && e->data[t_len] == '\n' &&
            memcmp(e->data + t_len + 1, key, k_len) == 0)
            return pp;
    }
    return pp;
}

static entry_t **link_of(shard_t *sh, const entry_t *e)
{
    entry_t **pp = &sh->buckets[e->hash & (sh->n_buckets - 1)];
    while (*pp != e)
        pp = &(*pp)->chain;
    return pp;
}

static void lru_remove(shard_t *sh, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        sh->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        sh->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(shard_t *sh, entry_t *e)
{
    e->prev = NULL;
    e->next = sh->head;
    if (sh->head)
        sh->head->prev = e;
    sh->head = e;
    if (sh->tail == NULL)
        sh->tail = e;
}

/* Unlinks the entry *pp points at and moves it onto *dead (freed after unlocking). */
static void unlink_entry(shard_t *sh, entry_t **pp, entry_t **dead)
{
    entry_t *e = *pp;
    *pp = e->chain;
    lru_remove(sh, e);
    sh->n_entries--;
    sh->bytes -= e->size;
    e->chain = *dead;
    *dead = e;
}

static void free_list(entry_t *e)
{
    while (e != NULL) {
        entry_t *next = e->chain;
        free(e);
        e = next;
    }
}

static void grow_buckets(shard_t *sh)
{
    size_t n = sh->n_buckets * 2;
    entry_t **b = cn_calloc(n, sizeof(entry_t *));
    for (size_t i = 0; i < sh->n_buckets; i++) {
        entry_t *e = sh->buckets[i];
        while (e != NULL) {
            entry_t *next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(sh->buckets);
    sh->buckets = b;
    sh->n_buckets = n;
}

void cn_cache_init(int64_t max_bytes, int default_ttl_ms)
{
    cn_cache_free();
    cache_state.max_bytes = max_bytes > 0 ? max_bytes : 0;
    cache_state.default_ttl_ms = default_ttl_ms > 0 ? default_ttl_ms : 60000;
    if (cache_state.max_bytes == 0)
        return;
    cache_state.n_shards = MAX_SHARDS;
    while (cache_state.n_shards > 1 &&
           cache_state.max_bytes / cache_state.n_shards < MIN_SHARD_BYTES)
        cache_state.n_shards /= 2;
    cn_random(&cache_state.seed,
              sizeof(cache_state.seed)); /* keys and tags cannot be chosen to collide */
    cache_state.gens = cn_calloc(TAG_SLOTS, sizeof(*cache_state.gens));
    for (unsigned i = 0; i < MAX_SHARDS; i++) {
        shard_t *sh = &shards[i];
        pthread_mutex_init(&sh->lock, NULL);
        if (i < cache_state.n_shards) {
            sh->budget = (size_t)(cache_state.max_bytes / cache_state.n_shards);
            sh->n_buckets = FIRST_BUCKETS;
            sh->buckets = cn_calloc(sh->n_buckets, sizeof(entry_t *));
        }
    }
    cache_state.ready = 1;
    cache_state.on = 1;
}

void cn_cache_free(void)
{
    if (cache_state.ready) {
        for (unsigned i = 0; i < MAX_SHARDS; i++) {
            shard_t *sh = &shards[i];
            for (entry_t *e = sh->head, *next; e != NULL; e = next) {
                next = e->next;
                free(e);
            }
            free(sh->buckets);
            pthread_mutex_destroy(&sh->lock);
        }
        free(cache_state.gens);
    }
    memset(shards, 0, sizeof(shards));
    memset(&cache_state, 0, sizeof(cache_state));
}

static int fill_token(const char *tenant, size_t t_len, const char *const *tags,
                      cn_cache_token_t *t)
{
    memset(t, 0, sizeof(*t));
    if (!cache_state.on)
        return CN_EINVAL;
    size_t n = 0;
    while (tags != NULL && tags[n] != NULL)
        if (++n > CN_CACHE_MAX_TAGS)
            return CN_EINVAL;
    t->tenant_hash = hash2(cache_state.seed ^ SEED_TENANT, tenant, t_len, "", 0);
    t->era = era_now(); /* before the generations: an era that moves after is seen by put */
    t->n_tags = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        uint64_t h = hash2(cache_state.seed ^ SEED_TAG, tenant, t_len, tags[i], strlen(tags[i]));
        t->slot[i] = (uint32_t)(h & (TAG_SLOTS - 1));
        t->gen[i] = __atomic_load_n(gen_slot(t->slot[i]), __ATOMIC_ACQUIRE);
    }
    t->usable = 1;
    return 0;
}

int cn_cache_token(const char *tenant, const char *const *tags, cn_cache_token_t *token)
{
    size_t t_len;
    if (!tenant_ok(tenant, &t_len)) {
        memset(token, 0, sizeof(*token));
        return CN_EINVAL;
    }
    return fill_token(tenant, t_len, tags, token);
}

int cn_cache_get(const char *tenant, const char *key, const char *const *tags, cn_buf_t *out,
                 cn_cache_token_t *token)
{
    size_t t_len;
    /* without the bus another node's invalidations cannot arrive: nothing is served or
     * stored until it is back */
    if (!cache_state.on || key == NULL || !tenant_ok(tenant, &t_len) || !cn_bus_connected()) {
        if (token != NULL)
            memset(token, 0, sizeof(*token));
        return 0;
    }
    size_t k_len = strlen(key);
    uint64_t h = hash2(cache_state.seed ^ SEED_KEY, tenant, t_len, key, k_len);
    shard_t *sh = shard_for(h);
    int64_t now = clock_ms();
    entry_t *dead = NULL;
    int hit = 0;
    pthread_mutex_lock(&sh->lock);
    entry_t **pp = find(sh, h, tenant, t_len, key, k_len);
    entry_t *e = *pp;
    if (e != NULL && now >= e->expires_ms) {
        sh->expired++;
        unlink_entry(sh, pp, &dead);
    } else if (e != NULL && !entry_is_current(e)) {
        unlink_entry(sh, pp, &dead); /* a tag was invalidated: computed from older data */
    } else if (e != NULL) {
        lru_remove(sh, e);
        lru_push(sh, e);
        cn_buf_append(out, e->data + e->key_len, e->val_len);
        hit = 1;
    }
    if (hit)
        sh->hits++;
    else
        sh->misses++;
    pthread_mutex_unlock(&sh->lock);
    free_list(dead);
    if (!hit && token != NULL)
        fill_token(tenant, t_len, tags, token); /* now, before the caller computes */
    return hit ? CN_CACHE_HIT : 0;
}

int cn_cache_put(const char *tenant, const char *key, const cn_cache_token_t *token,
                 const void *value, size_t len, int64_t ttl_ms)
{
    size_t t_len;
    if (!cache_state.on || key == NULL || token == NULL || !token->usable || ttl_ms < 0 ||
        (value == NULL && len > 0) || !tenant_ok(tenant, &t_len))
        return CN_EINVAL;
    if (token->tenant_hash != hash2(cache_state.seed ^ SEED_TENANT, tenant, t_len, "", 0))
        return CN_EINVAL;
    if (!token_is_current(token))
        return CN_ECONFLICT; /* the value may predate an invalidation; get rechecks too */
    size_t k_len = strlen(key);
    size_t size = sizeof(entry_t) + t_len + 1 + k_len + len;
    uint64_t h = hash2(cache_state.seed ^ SEED_KEY, tenant, t_len, key, k_len);
    shard_t *sh = shard_for(h);
    if (size > sh->budget / 4)
        return CN_EINVAL;

    entry_t *e = cn_malloc(size);
    memset(e, 0, sizeof(*e));
    e->hash = h;
    e->n_tags = token->n_tags;
    e->era = token->era;
    memcpy(e->gen, token->gen, sizeof(e->gen));
    memcpy(e->slot, token->slot, sizeof(e->slot));
    e->key_len = t_len + 1 + k_len;
    e->val_len = len;
    e->size = size;
    memcpy(e->data, tenant, t_len);
    e->data[t_len] = '\n';
    memcpy(e->data + t_len + 1, key, k_len);
    if (len > 0)
        memcpy(e->data + e->key_len, value, len);
    int64_t now = clock_ms(), ttl = ttl_ms > 0 ? ttl_ms : cache_state.default_ttl_ms;
    e->expires_ms = ttl < INT64_MAX - now ? now + ttl : INT64_MAX;

    entry_t *dead = NULL;
    pthread_mutex_lock(&sh->lock);
    entry_t **pp = find(sh, h, tenant, t_len, key, k_len);
    if (*pp != NULL)
        unlink_entry(sh, pp, &dead); /* replaced: neither evicted nor expired */
    while (sh->bytes + size > sh->budget && sh->tail != NULL) {
        entry_t *victim = sh->tail;
        if (now >= victim->expires_ms)
            sh->expired++;
        else
            sh->evictions++;
        unlink_entry(sh, link_of(sh, victim), &dead);
    }
    if (sh->n_entries >= sh->n_buckets)
        grow_buckets(sh);
    entry_t **bucket = &sh->buckets[h & (sh->n_buckets - 1)];
    e->chain = *bucket;
    *bucket = e;
    lru_push(sh, e);
    sh->n_entries++;
    sh->bytes += size;
    pthread_mutex_unlock(&sh->lock);
    free_list(dead);
    return 0;
}

static void invalidate_here(const char *tenant, size_t t_len, const char *tag, size_t tag_len)
{
    uint64_t h = hash2(cache_state.seed ^ SEED_TAG, tenant, t_len, tag, tag_len);
    __atomic_add_fetch(gen_slot((uint32_t)(h & (TAG_SLOTS - 1))), 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&cache_state.invalidations, 1, __ATOMIC_RELAXED);
}

/* Here, and on every other node: they cache the same tenants' answers. */
void cn_cache_invalidate(const char *tenant, const char *tag)
{
    size_t t_len;
    if (tag == NULL || !tenant_ok(tenant, &t_len))
        return;
    size_t tag_len = strlen(tag);
    if (cache_state.on)
        invalidate_here(tenant, t_len, tag, tag_len);
    char msg[512];
    if (t_len + 1 + tag_len <= sizeof(msg)) {
        memcpy(msg, tenant, t_len);
        msg[t_len] = '\n';
        memcpy(msg + t_len + 1, tag, tag_len);
        cn_bus_send("tag", msg, t_len + 1 + tag_len);
    }
}

/* Another node's invalidation: tenant '\n' tag. */
static void on_bus_tag(const char *subject, const char *data, size_t len, void *ud)
{
    (void)subject;
    (void)ud;
    const char *nl = memchr(data, '\n', len);
    if (!cache_state.on || nl == NULL || nl == data)
        return;
    char tenant[256];
    size_t t_len = (size_t)(nl - data);
    if (t_len >= sizeof(tenant))
        return;
    memcpy(tenant, data, t_len);
    tenant[t_len] = '\0';
    invalidate_here(tenant, t_len, nl + 1, len - t_len - 1);
}

/* The bus went or came back: what is stored predates invalidations that may be lost. */
static void on_bus_state(int connected, void *ud)
{
    (void)connected;
    (void)ud;
    __atomic_add_fetch(&cache_state.era, 1, __ATOMIC_SEQ_CST);
}

int cn_cache_attach_bus(cn_bus_t *bus, cn_err_t *err)
{
    if (bus == NULL)
        return 0;
    cn_bus_watch(bus, on_bus_state, NULL);
    return cn_bus_subscribe(bus, "tag", on_bus_tag, NULL, err);
}

void cn_cache_stats(cn_cache_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    out->max_bytes = cache_state.max_bytes;
    out->n_shards = cache_state.n_shards;
    if (!cache_state.ready)
        return;
    out->invalidations = __atomic_load_n(&cache_state.invalidations, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < cache_state.n_shards; i++) {
        shard_t *sh = &shards[i];
        pthread_mutex_lock(&sh->lock);
        out->hits += sh->hits;
        out->misses += sh->misses;
        out->evictions += sh->evictions;
        out->expired += sh->expired;
        out->entries += sh->n_entries;
        out->bytes += sh->bytes;
        pthread_mutex_unlock(&sh->lock);
    }
}

void cn_cache_render_metrics(cn_buf_t *out)
{
    cn_cache_stats_t s;
    cn_cache_stats(&s);
    static const cn_metric_def_t series[] = {
        {"cairn_cache_hits_total", "counter", "Cache lookups answered from the cache."},
        {"cairn_cache_misses_total", "counter",
         "Cache lookups not answered (absent, expired or invalidated)."},
        {"cairn_cache_evictions_total", "counter",
         "Cache entries dropped from the LRU tail to stay within cache.max_bytes."},
        {"cairn_cache_expired_total", "counter", "Cache entries dropped after their TTL."},
        {"cairn_cache_invalidations_total", "counter", "Cache tag invalidations."},
        {"cairn_cache_entries", "gauge", "Entries in the cache."},
        {"cairn_cache_bytes", "gauge", "Bytes charged to the cache's budget."},
    };
    const uint64_t values[] = {s.hits,          s.misses,  s.evictions, s.expired,
                               s.invalidations, s.entries, s.bytes};
    _Static_assert(CN_ARRAY_SIZE(series) == CN_ARRAY_SIZE(values), "one value per series");
    cn_metrics_render_plain(out, series, values, CN_ARRAY_SIZE(series));
}
