/*
 * The cluster bus over core NATS (see bus.h). One connection per bus with no echo (a node
 * never hears itself), one wildcard subscription whose handler dispatches by subject on
 * the client's delivery thread, and a sender thread that drains a bounded queue, so a
 * loop that publishes only takes a mutex. The client reconnects forever and buffers what
 * is published meanwhile (reconnect buffer); what is lost anyway is in the database, and
 * the watchers (cache, events) make up for it on reconnect. Never reads the store.
 */
#include "core/bus.h"
#include "core/log.h"
#include "lib/redact.h"

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLUSTER_MAX 32 /* cluster.name: its length, checked by config */
#define SUBJECT_MAX 32
#define QUEUE_MAX_BYTES (64u << 20) /* unsent messages of a bus; past it they are dropped */
#define RECONNECT_BUF (32 << 20)    /* the client's own buffer while it reconnects */
#define MAX_HANDLERS 16
#define MAX_WATCHERS 8
#define FLUSH_TIMEOUT_MS 2000 /* the round trip after a (re)connection */

typedef struct st_qmsg_t {
    struct st_qmsg_t *next;
    size_t len;
    char subject[320]; /* a subject, or a key of the key-value bucket */
    char data[];
} qmsg_t;

/* Owned by whoever opened it (the server); freed by cn_bus_close once the client's threads
 * are gone (see release). */
struct st_cn_bus_t {
    natsOptions *opts;
    natsConnection *nc;
    natsSubscription *sub;
    pthread_mutex_t lock; /* the queue, handlers and watchers */
    pthread_cond_t cv;
    qmsg_t *head, **tail;
    size_t queued;
    int stopping;
    int sending; /* the sender thread runs */
    pthread_t sender;
    atomic_int connected;
    atomic_int closing; /* callbacks after close start do nothing */
    struct {
        char subject[SUBJECT_MAX];
        cn_bus_fn fn;
        void *ud;
    } handlers[MAX_HANDLERS];
    int n_handlers;
    struct {
        cn_bus_state_fn fn;
        void *ud;
    } watchers[MAX_WATCHERS];
    int n_watchers;
    atomic_uint_fast64_t dropped, received;
    struct st_cn_bus_t *next_closed;
    struct st_kv_t *kv;           /* the key-value bucket, if started */
    char prefix[CLUSTER_MAX + 2]; /* "<cluster>.": every subject's start */
    size_t prefix_len;
};

/* The bucket's side of a bus: its own thread, since every JetStream call is a round trip. */
typedef struct st_kv_t {
    char bucket[64];
    int64_t ttl_ms;
    cn_bus_kv_fn fn;
    cn_bus_kv_refresh_fn refresh;
    void *ud;
    pthread_t thread;
    qmsg_t *head, **tail; /* puts and deletes to send (subject = key; len 0 and no data byte
                             0xff: a delete) */
    atomic_int again;     /* the bus reconnected: make the watcher anew */
    jsCtx *js;
    kvStore *store;
    kvWatcher *watcher;
    int warned;
} kv_t;

/* The library is shared by every bus of the process: opened with the first, closed (and
 * its threads joined) with the last, which is when closed buses can be freed. */
static struct {
    pthread_mutex_t lock;
    int open;
    cn_bus_t *closed;
} library = {.lock = PTHREAD_MUTEX_INITIALIZER};

static cn_bus_t *process_bus;

/* Set while a handler runs: what a node does in answer to another node's message (a cache
 * invalidation by an event subscriber) was already sent by that node, to every node. */
static _Thread_local int in_handler;

/* ---- state changes ---- */

static void notify(cn_bus_t *b, int connected)
{
    if (atomic_load(&b->closing))
        return;
    atomic_store(&b->connected, connected);
    pthread_mutex_lock(&b->lock);
    int n = b->n_watchers;
    pthread_mutex_unlock(&b->lock);
    for (int i = 0; i < n; i++)
        b->watchers[i].fn(connected, b->watchers[i].ud);
}

/* The client calls this once it has written the subscription out, not once the server has
 * taken it: a round trip (PING/PONG, answered in order) first, so a watcher that reads the
 * database to catch up reads after the point from which the bus delivers again. Otherwise
 * an event published in between would reach neither, and if no later event showed the
 * gap, it would never be delivered. */
static void on_connected(natsConnection *nc, void *closure)
{
    cn_bus_t *b = closure;
    if (atomic_load(&b->closing))
        return;
    natsStatus s = natsConnection_FlushTimeout(nc, FLUSH_TIMEOUT_MS);
    if (s != NATS_OK) /* lost again: the next reconnect calls this anew */
        cn_log(CN_LOG_WARN, NULL, "bus: reconnected, but NATS did not answer: %s",
               natsStatus_GetText(s));
    else
        cn_log(CN_LOG_INFO, NULL, "bus: connected to NATS");
    notify(b, 1);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    cn_bus_t *b = closure;
    if (!atomic_load(&b->closing))
        cn_log(CN_LOG_WARN, NULL, "bus: NATS connection lost; reconnecting");
    notify(b, 0);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus s, void *closure)
{
    (void)nc;
    (void)sub;
    cn_bus_t *b = closure;
    if (atomic_load(&b->closing))
        return;
    cn_log(CN_LOG_WARN, NULL, "bus: NATS error: %s", natsStatus_GetText(s));
    if (s == NATS_SLOW_CONSUMER) { /* messages were lost: as after a disconnection */
        notify(b, 0);
        notify(b, 1);
    }
}

/* ---- receiving ---- */

static void on_message(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    cn_bus_t *b = closure;
    const char *subject = natsMsg_GetSubject(msg) + b->prefix_len;
    atomic_fetch_add(&b->received, 1);
    pthread_mutex_lock(&b->lock);
    cn_bus_fn fn = NULL;
    void *ud = NULL;
    for (int i = 0; i < b->n_handlers && fn == NULL; i++)
        if (strcmp(b->handlers[i].subject, subject) == 0) {
            fn = b->handlers[i].fn;
            ud = b->handlers[i].ud;
        }
    pthread_mutex_unlock(&b->lock);
    if (fn != NULL && !atomic_load(&b->closing)) {
        in_handler = 1;
        fn(subject, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), ud);
        in_handler = 0;
    }
    natsMsg_Destroy(msg);
}

int cn_bus_subscribe(cn_bus_t *b, const char *subject, cn_bus_fn fn, void *ud, cn_err_t *err)
{
    if (strlen(subject) >= SUBJECT_MAX || strchr(subject, '*') || strchr(subject, '>'))
        return cn_err_set(err, CN_EINVAL, "bus: bad subject %s", subject);
    pthread_mutex_lock(&b->lock);
    int rc = 0;
    if (b->n_handlers == MAX_HANDLERS) {
        rc = cn_err_set(err, CN_ERR, "bus: too many subjects");
    } else {
        snprintf(b->handlers[b->n_handlers].subject, SUBJECT_MAX, "%s", subject);
        b->handlers[b->n_handlers].fn = fn;
        b->handlers[b->n_handlers].ud = ud;
        b->n_handlers++;
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}

void cn_bus_watch(cn_bus_t *b, cn_bus_state_fn fn, void *ud)
{
    pthread_mutex_lock(&b->lock);
    if (b->n_watchers < MAX_WATCHERS) {
        b->watchers[b->n_watchers].fn = fn;
        b->watchers[b->n_watchers].ud = ud;
        b->n_watchers++;
    }
    pthread_mutex_unlock(&b->lock);
}

/* ---- sending ---- */

int cn_bus_publish(cn_bus_t *b, const char *subject, const void *data, size_t len)
{
    if (b == NULL)
        return 0;
    pthread_mutex_lock(&b->lock);
    if (b->stopping || b->queued + len > QUEUE_MAX_BYTES || strlen(subject) >= SUBJECT_MAX) {
        pthread_mutex_unlock(&b->lock);
        atomic_fetch_add(&b->dropped, 1);
        return CN_EBUSY;
    }
    qmsg_t *m = cn_malloc(sizeof(*m) + len);
    m->next = NULL;
    m->len = len;
    snprintf(m->subject, sizeof(m->subject), "%s%s", b->prefix, subject);
    memcpy(m->data, data, len);
    *b->tail = m;
    b->tail = &m->next;
    b->queued += len;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->lock);
    return 0;
}

/* The sender: takes the whole queue at once and hands it to the client, which writes it
 * (or keeps it in its reconnect buffer) on its own thread. Ends once stopping and empty. */
static void *sender_main(void *arg)
{
    cn_bus_t *b = arg;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        while (b->head == NULL && !b->stopping)
            pthread_cond_wait(&b->cv, &b->lock);
        qmsg_t *m = b->head;
        if (m == NULL)
            break;
        b->head = NULL;
        b->tail = &b->head;
        b->queued = 0;
        pthread_mutex_unlock(&b->lock);
        while (m != NULL) {
            qmsg_t *next = m->next;
            if (natsConnection_Publish(b->nc, m->subject, m->data, (int)m->len) != NATS_OK)
                atomic_fetch_add(&b->dropped, 1); /* reconnect buffer full, or closed */
            free(m);
            m = next;
        }
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

/* ---- the key-value bucket ---- */

static void kv_drop(kv_t *kv)
{
    kvWatcher_Destroy(kv->watcher);
    kvStore_Destroy(kv->store);
    jsCtx_Destroy(kv->js);
    kv->watcher = NULL;
    kv->store = NULL;
    kv->js = NULL;
}

/* Makes or finds the bucket and a watcher of all its keys; 0 or -1 (tried again later). */
static int kv_open(cn_bus_t *b, kv_t *kv)
{
    natsStatus s = natsConnection_JetStream(&kv->js, b->nc, NULL);
    if (s == NATS_OK) {
        kvConfig cfg;
        kvConfig_Init(&cfg);
        cfg.Bucket = kv->bucket;
        cfg.TTL = kv->ttl_ms * 1000000; /* nanoseconds, as the stream's max age */
        cfg.History = 1;
        cfg.StorageType = js_MemoryStorage; /* what it holds dies with the nodes anyway */
        s = js_CreateKeyValue(&kv->store, kv->js, &cfg);
        if (s != NATS_OK) /* it exists (another node made it): bind to it */
            s = js_KeyValue(&kv->store, kv->js, kv->bucket);
    }
    if (s == NATS_OK)
        s = kvStore_WatchAll(&kv->watcher, kv->store, NULL);
    if (s == NATS_OK) {
        kv->fn(NULL, NULL, 0, kv->ud); /* the watcher starts with every key again */
        kv->warned = 0;
        return 0;
    }
    if (!kv->warned++)
        cn_log(CN_LOG_WARN, NULL, "bus: no key-value bucket %s (is JetStream on?): %s", kv->bucket,
               natsStatus_GetText(s));
    kv_drop(kv);
    return -1;
}

/* Sends the queued puts and deletes (dropped while there is no bucket). */
static void kv_send(cn_bus_t *b, kv_t *kv)
{
    pthread_mutex_lock(&b->lock);
    qmsg_t *m = kv->head;
    kv->head = NULL;
    kv->tail = &kv->head;
    pthread_mutex_unlock(&b->lock);
    for (qmsg_t *next; m != NULL; m = next) {
        next = m->next;
        natsStatus s = NATS_OK;
        if (kv->store != NULL && m->len == 0)
            s = kvStore_Delete(kv->store, m->subject);
        else if (kv->store != NULL)
            s = kvStore_Put(NULL, kv->store, m->subject, m->data, (int)m->len);
        (void)s; /* lost: the next refresh puts the owner's keys again */
        free(m);
    }
}

static void kv_deliver(kv_t *kv, kvEntry *e)
{
    kvOperation op = kvEntry_Operation(e);
    if (op == kvOp_Put)
        kv->fn(kvEntry_Key(e), kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), kv->ud);
    else if (op == kvOp_Delete || op == kvOp_Purge)
        kv->fn(kvEntry_Key(e), NULL, 0, kv->ud);
    kvEntry_Destroy(e);
}

static void *kv_main(void *arg)
{
    cn_bus_t *b = arg;
    kv_t *kv = b->kv;
    int64_t refreshed = 0, every = kv->ttl_ms / 3 > 0 ? kv->ttl_ms / 3 : 1;
    while (!atomic_load(&b->closing)) {
        if (atomic_exchange(&kv->again, 0))
            kv_drop(kv);
        if (!atomic_load(&b->connected) || (kv->store == NULL && kv_open(b, kv) != 0)) {
            struct timespec t = {0, 100 * 1000000L};
            nanosleep(&t, NULL);
            continue;
        }
        if (cn_now_ms() - refreshed >= every) {
            refreshed = cn_now_ms();
            kv->refresh(kv->ud);
        }
        kv_send(b, kv);
        kvEntry *e = NULL;
        natsStatus s = kvWatcher_Next(&e, kv->watcher, 100);
        if (s == NATS_OK && e != NULL) /* else a timeout (nothing changed), or the end of
                                           the first reading (e NULL) */
            kv_deliver(kv, e);
    }
    kv_drop(kv);
    return NULL;
}

static void kv_on_state(int connected, void *ud)
{
    kv_t *kv = ud;
    if (connected)
        atomic_store(&kv->again, 1);
}

int cn_bus_kv_start(cn_bus_t *b, const char *bucket, int64_t ttl_ms, cn_bus_kv_fn fn,
                    cn_bus_kv_refresh_fn refresh, void *ud, cn_err_t *err)
{
    if (b->kv != NULL)
        return cn_err_set(err, CN_ERR, "bus: one key-value bucket per bus");
    kv_t *kv = cn_calloc(1, sizeof(*kv));
    /* the cluster's own: its prefix without the dot */
    snprintf(kv->bucket, sizeof(kv->bucket), "%.*s_%s", (int)b->prefix_len - 1, b->prefix, bucket);
    kv->ttl_ms = ttl_ms;
    kv->fn = fn;
    kv->refresh = refresh;
    kv->ud = ud;
    kv->tail = &kv->head;
    pthread_mutex_lock(&b->lock);
    b->kv = kv;
    pthread_mutex_unlock(&b->lock);
    cn_bus_watch(b, kv_on_state, kv);
    pthread_create(&kv->thread, NULL, kv_main, b);
    return 0;
}

void cn_bus_kv_put(cn_bus_t *b, const char *key, const void *data, size_t len)
{
    if (b == NULL || b->kv == NULL || strlen(key) >= sizeof(((qmsg_t *)0)->subject))
        return;
    if (data == NULL)
        len = 0;
    else if (len == 0) /* an empty value is a put all the same */
        data = "", len = 1;
    qmsg_t *m = cn_malloc(sizeof(*m) + len);
    m->next = NULL;
    m->len = len;
    snprintf(m->subject, sizeof(m->subject), "%s", key);
    if (len > 0)
        memcpy(m->data, data, len);
    pthread_mutex_lock(&b->lock);
    *b->kv->tail = m;
    b->kv->tail = &m->next;
    pthread_mutex_unlock(&b->lock);
}

/* ---- opening and closing ---- */

static int options(cn_bus_t *b, const char *url, const char *name, cn_err_t *err)
{
    natsStatus s = natsOptions_Create(&b->opts);
    if (s == NATS_OK)
        s = natsOptions_SetURL(b->opts, url);
    if (s == NATS_OK && name != NULL)
        s = natsOptions_SetName(b->opts, name);
    if (s == NATS_OK)
        s = natsOptions_SetNoEcho(b->opts, true);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(b->opts, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(b->opts, 250);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectBufSize(b->opts, RECONNECT_BUF);
    if (s == NATS_OK) /* a lost server is noticed within ~2 s, not the default 4 min */
        s = natsOptions_SetPingInterval(b->opts, 1000);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(b->opts, 2);
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(b->opts, true, on_connected, b);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(b->opts, on_disconnected, b);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(b->opts, on_connected, b);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(b->opts, on_error, b);
    if (s != NATS_OK) {
        char shown[512];
        cn_url_redact(url, shown, sizeof(shown));
        return cn_err_set(err, CN_EINVAL, "cluster.nats_url %s: %s", shown, natsStatus_GetText(s));
    }
    return 0;
}

int cn_bus_open(const char *url, const char *name, const char *cluster, cn_bus_t **out,
                cn_err_t *err)
{
    *out = NULL;
    if (url == NULL || url[0] == '\0')
        return 0;
    if (cluster == NULL || cluster[0] == '\0' || strlen(cluster) > CLUSTER_MAX)
        return cn_err_set(err, CN_EINVAL, "bus: cluster.name must be 1 to %d characters",
                          CLUSTER_MAX);
    pthread_mutex_lock(&library.lock);
    natsStatus s = library.open++ == 0 ? nats_Open(-1) : NATS_OK;
    pthread_mutex_unlock(&library.lock);
    if (s != NATS_OK)
        return cn_err_set(err, CN_ERR, "bus: cannot start the NATS client: %s",
                          natsStatus_GetText(s));
    cn_bus_t *b = cn_calloc(1, sizeof(*b));
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->tail = &b->head;
    b->prefix_len = (size_t)snprintf(b->prefix, sizeof(b->prefix), "%s.", cluster);
    int rc = options(b, url, name, err);
    if (rc == 0) {
        s = natsConnection_Connect(&b->nc, b->opts);
        if (s == NATS_OK)
            atomic_store(&b->connected, 1);
        else if (s != NATS_NOT_YET_CONNECTED) /* else it keeps trying: on_connected says when */
            rc = cn_err_set(err, CN_ERR, "bus: %s", natsStatus_GetText(s));
    }
    char all[sizeof(b->prefix) + 1];
    snprintf(all, sizeof(all), "%s>", b->prefix);
    if (rc == 0 && (s = natsConnection_Subscribe(&b->sub, b->nc, all, on_message, b)) ==
                       NATS_OK) /* handlers are quick: no limit, so nothing is dropped here */
        s = natsSubscription_SetPendingLimits(b->sub, -1, -1);
    if (rc == 0 && s != NATS_OK && s != NATS_NOT_YET_CONNECTED)
        rc = cn_err_set(err, CN_ERR, "bus: cannot subscribe: %s", natsStatus_GetText(s));
    if (rc != 0) {
        cn_bus_close(b);
        return rc;
    }
    pthread_create(&b->sender, NULL, sender_main, b);
    b->sending = 1;
    *out = b;
    return 0;
}

void cn_bus_close(cn_bus_t *b)
{
    if (b == NULL)
        return;
    if (b->sending) {
        pthread_mutex_lock(&b->lock);
        b->stopping = 1;
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->lock);
        pthread_join(b->sender, NULL);
        if (atomic_load(&b->connected))
            natsConnection_FlushTimeout(b->nc, 1000);
    }
    atomic_store(&b->closing, 1);
    if (b->kv != NULL) {
        pthread_join(b->kv->thread, NULL);
        for (qmsg_t *m = b->kv->head, *n; m != NULL; m = n) {
            n = m->next;
            free(m);
        }
        free(b->kv);
        b->kv = NULL;
    }
    natsSubscription_Destroy(b->sub);
    natsConnection_Close(b->nc);
    natsConnection_Destroy(b->nc);
    natsOptions_Destroy(b->opts);
    /* the client's threads may still call back with b: free it once they are all gone */
    pthread_mutex_lock(&library.lock);
    b->next_closed = library.closed;
    library.closed = b;
    if (--library.open == 0) {
        nats_CloseAndWait(2000);
        for (cn_bus_t *x = library.closed, *next; x != NULL; x = next) {
            next = x->next_closed;
            for (qmsg_t *m = x->head, *n; m != NULL; m = n) {
                n = m->next;
                free(m);
            }
            pthread_mutex_destroy(&x->lock);
            pthread_cond_destroy(&x->cv);
            free(x);
        }
        library.closed = NULL;
    }
    pthread_mutex_unlock(&library.lock);
}

int cn_bus_is_connected(const cn_bus_t *b)
{
    return b != NULL && atomic_load(&b->connected);
}

void cn_bus_counts(const cn_bus_t *b, uint64_t *dropped, uint64_t *received)
{
    *dropped = b ? atomic_load(&b->dropped) : 0;
    *received = b ? atomic_load(&b->received) : 0;
}

/* ---- the process's bus ---- */

void cn_bus_set_process(cn_bus_t *b)
{
    __atomic_store_n(&process_bus, b, __ATOMIC_RELEASE);
}

cn_bus_t *cn_bus_process(void)
{
    return __atomic_load_n(&process_bus, __ATOMIC_ACQUIRE);
}

int cn_bus_connected(void)
{
    cn_bus_t *b = cn_bus_process();
    return b == NULL || cn_bus_is_connected(b);
}

void cn_bus_send(const char *subject, const void *data, size_t len)
{
    cn_bus_t *b = cn_bus_process();
    if (b != NULL && !in_handler)
        cn_ignore(cn_bus_publish(b, subject, data, len));
}
