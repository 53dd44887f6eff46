/*
 * Presence (see realtime.h): how many realtime connections each user of each tenant has
 * open, across every loop, and GET /api/v1/realtime/presence. A list under one mutex:
 * connections open and close far less often than events are delivered.
 *
 * With a cluster bus, every node also keeps its counts in a JetStream key-value bucket
 * (key: hex tenant '.' node '.' hex subject, value: the count), put again every third of
 * the heartbeat window (two heartbeat intervals), and mirrors the other nodes' keys from
 * the bucket's watcher. A mirrored key not put again within the window belongs to a node
 * that died: it no longer counts (the bucket also expires it). Nothing here blocks a loop:
 * puts are queued for the bus's bucket thread.
 */
#include "core/realtime_int.h"
#include "core/bus.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define BUCKET "presence" /* the bus makes it <cluster.name>_presence */
#define NODE_LEN 16
#define KEY_MAX 300 /* two hex names of up to 63 bytes, the node, two dots */

/* Other nodes' counts, as the bucket's watcher last said. */
typedef struct st_remote_t {
    struct st_remote_t *next;
    int64_t seen_ms; /* last put seen */
    int count;
    char node[NODE_LEN + 1];
    char key[]; /* tenant '\n' subject */
} remote_t;

static struct {
    pthread_mutex_t lock; /* remotes */
    remote_t *remotes;
    char node[NODE_LEN + 1];
    int64_t ttl_ms;
    cn_bus_t *bus; /* NULL: presence is this node's */
} cluster = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- the bucket's keys ---- */

static void hex(char *out, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n * 2 + 1 > cap)
        n = (cap - 1) / 2;
    sodium_bin2hex(out, cap, (const unsigned char *)s, n);
}

/* key "tenant\nsubject" -> bucket key hex(tenant).node.hex(subject) */
static void bucket_key(const char *key, char out[KEY_MAX])
{
    char tenant[64] = "", subject[64] = "";
    const char *nl = strchr(key, '\n');
    if (nl == NULL)
        return;
    snprintf(tenant, sizeof(tenant), "%.*s", (int)(nl - key), key);
    snprintf(subject, sizeof(subject), "%s", nl + 1);
    char ht[2 * sizeof(tenant) + 1], hs[2 * sizeof(subject) + 1];
    hex(ht, sizeof(ht), tenant);
    hex(hs, sizeof(hs), subject);
    snprintf(out, KEY_MAX, "%s.%s.%s", ht, cluster.node, hs);
}

/* Puts key's count in the bucket (0: deletes it). Called with presence_lock held. */
static void publish(const char *key, int count)
{
    if (cluster.bus == NULL)
        return;
    char k[KEY_MAX] = "";
    bucket_key(key, k);
    if (k[0] == '\0')
        return;
    char v[16];
    int n = snprintf(v, sizeof(v), "%d", count);
    cn_bus_kv_put(cluster.bus, k, count > 0 ? v : NULL, (size_t)n);
}

static int unhex(const char *h, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    if (sodium_hex2bin((unsigned char *)out, cap - 1, h, len, NULL, &n, NULL) != 0)
        return -1;
    out[n] = '\0';
    return memchr(out, '\n', n) != NULL || memchr(out, '\0', n) != NULL ? -1 : 0;
}

/* Splits a bucket key into "tenant\nsubject" and the node. */
static int parse_key(const char *k, char key[160], char node[NODE_LEN + 1])
{
    const char *d1 = strchr(k, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    char tenant[64], subject[64];
    if (d2 == NULL || d2 - d1 - 1 != NODE_LEN ||
        unhex(k, (size_t)(d1 - k), tenant, sizeof(tenant)) ||
        unhex(d2 + 1, strlen(d2 + 1), subject, sizeof(subject)))
        return -1;
    memcpy(node, d1 + 1, NODE_LEN);
    node[NODE_LEN] = '\0';
    snprintf(key, 160, "%s\n%s", tenant, subject);
    return 0;
}

static void forget_remotes(void)
{
    while (cluster.remotes != NULL) {
        remote_t *r = cluster.remotes;
        cluster.remotes = r->next;
        free(r);
    }
}

/* The bucket's thread: a key of another node changed (data NULL: deleted; k NULL: all). */
static void on_change(const char *k, const char *data, size_t len, void *ud)
{
    (void)ud;
    char key[160], node[NODE_LEN + 1];
    pthread_mutex_lock(&cluster.lock);
    if (k == NULL) {
        forget_remotes();
    } else if (parse_key(k, key, node) == 0 && strcmp(node, cluster.node) != 0) {
        remote_t **pr = &cluster.remotes;
        while (*pr != NULL && (strcmp((*pr)->key, key) != 0 || strcmp((*pr)->node, node) != 0))
            pr = &(*pr)->next;
        char v[16];
        snprintf(v, sizeof(v), "%.*s", (int)(len < 15 ? len : 15), data ? data : "");
        int count = data ? atoi(v) : 0;
        if (*pr == NULL && count > 0) {
            size_t n = strlen(key) + 1;
            *pr = cn_calloc(1, sizeof(**pr) + n);
            memcpy((*pr)->key, key, n);
            memcpy((*pr)->node, node, sizeof(node));
        }
        if (*pr != NULL && count <= 0) {
            remote_t *gone = *pr;
            *pr = gone->next;
            free(gone);
        } else if (*pr != NULL) {
            (*pr)->count = count;
            (*pr)->seen_ms = cn_now_ms();
        }
    }
    pthread_mutex_unlock(&cluster.lock);
}

/* The bucket's thread, every third of the window: this node's keys live on. */
static void on_refresh(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&cn__realtime.presence_lock);
    for (struct presence *p = cn__realtime.presence; p != NULL; p = p->next)
        publish(p->key, p->count);
    pthread_mutex_unlock(&cn__realtime.presence_lock);
}

int cn__rt_presence_start(cn_err_t *err)
{
    cn_bus_t *bus = cn_bus_process();
    if (bus == NULL)
        return 0;
    unsigned char id[NODE_LEN / 2];
    cn_random(id, sizeof(id));
    sodium_bin2hex(cluster.node, sizeof(cluster.node), id, sizeof(id));
    cluster.ttl_ms = 2 * (int64_t)cn__realtime.heartbeat_ms;
    cluster.bus = bus;
    return cn_bus_kv_start(bus, BUCKET, cluster.ttl_ms, on_change, on_refresh, NULL, err);
}

void cn__rt_presence_stop(void)
{
    pthread_mutex_lock(&cluster.lock);
    forget_remotes();
    cluster.bus = NULL;
    pthread_mutex_unlock(&cluster.lock);
}

/* ---- this node's counts ---- */

void cn__rt_presence_add(const who_t *p, int delta)
{
    char key[160];
    snprintf(key, sizeof(key), "%s\n%s", p->tenant_id, p->subject);
    pthread_mutex_lock(&cn__realtime.presence_lock);
    struct presence **pp = &cn__realtime.presence;
    while (*pp != NULL && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    if (*pp == NULL && delta > 0) {
        size_t n = strlen(key) + 1;
        *pp = cn_calloc(1, sizeof(**pp) + n);
        memcpy((*pp)->key, key, n);
    }
    if (*pp != NULL) {
        (*pp)->count += delta;
        publish(key, (*pp)->count);
    }
    if (*pp != NULL && (*pp)->count <= 0) {
        struct presence *gone = *pp;
        *pp = gone->next;
        free(gone);
    }
    pthread_mutex_unlock(&cn__realtime.presence_lock);
}

/* Other nodes' live connections of key ("tenant\nsubject"). cluster.lock held. */
static int remote_count(const char *key, int64_t now)
{
    int n = 0;
    for (remote_t *r = cluster.remotes; r != NULL; r = r->next)
        if (now - r->seen_ms < cluster.ttl_ms && strcmp(r->key, key) == 0)
            n += r->count;
    return n;
}

int cn_realtime_presence(const char *tenant_id, const char *subject)
{
    char key[160];
    snprintf(key, sizeof(key), "%s\n%s", tenant_id, subject);
    int n = 0;
    pthread_mutex_lock(&cn__realtime.presence_lock);
    for (struct presence *p = cn__realtime.presence; p != NULL; p = p->next)
        if (strcmp(p->key, key) == 0)
            n = p->count;
    pthread_mutex_unlock(&cn__realtime.presence_lock);
    pthread_mutex_lock(&cluster.lock);
    n += remote_count(key, cn_now_ms());
    pthread_mutex_unlock(&cluster.lock);
    return n;
}

/* ---- presence route ---- */

typedef struct {
    char *subject;
    int count;
} seen_t;

/* Adds n connections of subject to the list v (of *len). */
static seen_t *tally(seen_t *v, size_t *len, const char *subject, int n)
{
    for (size_t i = 0; i < *len; i++)
        if (strcmp(v[i].subject, subject) == 0) {
            v[i].count += n;
            return v;
        }
    v = cn_realloc(v, (*len + 1) * sizeof(seen_t));
    v[*len].subject = cn_strdup(subject);
    v[*len].count = n;
    ++*len;
    return v;
}

int cn__rt_get_presence(cn_req_t *r)
{
    const char *tenant = cn_req_tenant(r);
    size_t tl = strlen(tenant), n = 0;
    seen_t *v = NULL;
    pthread_mutex_lock(&cn__realtime.presence_lock);
    for (struct presence *p = cn__realtime.presence; p != NULL; p = p->next)
        if (strncmp(p->key, tenant, tl) == 0 && p->key[tl] == '\n')
            v = tally(v, &n, p->key + tl + 1, p->count);
    pthread_mutex_unlock(&cn__realtime.presence_lock);
    int64_t now = cn_now_ms();
    pthread_mutex_lock(&cluster.lock);
    for (remote_t *p = cluster.remotes; p != NULL; p = p->next)
        if (now - p->seen_ms < cluster.ttl_ms && strncmp(p->key, tenant, tl) == 0 &&
            p->key[tl] == '\n')
            v = tally(v, &n, p->key + tl + 1, p->count);
    pthread_mutex_unlock(&cluster.lock);
    cn_jw_t w;
    cn_jw_init(&w, cn_reply_buffer(r));
    cn_jw_object(&w);
    cn_jw_key(&w, "items");
    cn_jw_array(&w);
    for (size_t i = 0; i < n; i++) {
        cn_jw_object(&w);
        cn_jw_key(&w, "subject");
        cn_jw_str(&w, v[i].subject, strlen(v[i].subject));
        cn_jw_key(&w, "connections");
        cn_jw_int(&w, v[i].count);
        cn_jw_end(&w);
        free(v[i].subject);
    }
    free(v);
    cn_jw_end(&w);
    cn_jw_end(&w);
    return cn_reply_json_buf(r, 200);
}
