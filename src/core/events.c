/*
 * Event bus (see events.h). Published events are staged per thread, without a number, and
 * follow their transaction. Just before COMMIT the database numbers them: one upsert per
 * channel adds the transaction's count to the channel's row in realtime_channels and
 * returns the new position, so the events get last-n+1 .. last. That row stays locked
 * until the commit (on PostgreSQL; SQLite has one writer anyway), so writers on every node
 * number a channel one after another, gap-free and in commit order, and a rolled-back
 * transaction gives nothing back because it took nothing. The events are then written to
 * the history, delivered after the COMMIT and dropped on a rollback (of the transaction or
 * of the unit of work that published them). Memory keeps per channel only the last
 * position a commit of this process was told (what cn_events_position answers), its epoch
 * and when the history was last pruned by age.
 */
#include "core/events.h"
#include "core/events_int.h"
#include "store/store_int.h"
#include "core/log.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SUBSCRIBERS 32
#define MAX_CACHED_CHANNELS 65536
#define PRUNE_EVERY 64           /* events between count prunes of one channel */
#define AGE_PRUNE_EVERY_MS 60000 /* between age prunes of one channel */

typedef struct st_chan_t {
    struct st_chan_t *next; /* hash chain */
    uint64_t hash;
    int64_t committed; /* the last position a commit here was told, once known */
    int known;         /* committed and epoch are the database's (not a new channel's guess) */
    int refs;          /* staged events pointing here: the entry is not forgotten meanwhile */
    int64_t pruned_at_ms;
    int count_pruned; /* this process trimmed it by count once (all older rows are gone) */
    char epoch[CN_EPOCH_LEN + 1]; /* a new channel's first epoch until known */
    size_t tenant_len;
    char key[]; /* tenant '\n' channel */
} chan_t;

typedef struct {
    chan_t *ch;
    int64_t seq, at;   /* seq: 0 until the precommit numbers it */
    char *type, *data; /* one allocation: type '\0' data '\0' */
    size_t data_len;
    int depth; /* units of work it was published in that have not been released yet */
    char epoch[CN_EPOCH_LEN + 1]; /* the channel's, as the database answered with seq */
} staged_t;

static struct {
    pthread_mutex_t lock;
    chan_t **buckets;
    size_t cap, count;
    struct {
        char prefix[64];
        size_t prefix_len;
        cn_event_fn fn;
        void *ud;
    } subs[MAX_SUBSCRIBERS];
    int n_subs;
    int64_t history_count, history_age_ms;
} event_bus = {
    .lock = PTHREAD_MUTEX_INITIALIZER, .history_count = 1000, .history_age_ms = 86400000};

static _Thread_local struct {
    const cn_store_t *store;
    staged_t *v;
    size_t n, cap;
} staged;

/* PostgreSQL's schema (see cn_migration_t): BIGINT (its INTEGER is 32 bits), and no
 * WITHOUT ROWID (a PostgreSQL table is a heap whatever its key). */
static const char realtime_pg[] = "CREATE TABLE realtime_channels ("
                                  " tenant_id TEXT NOT NULL,"
                                  " channel TEXT NOT NULL,"
                                  " seq BIGINT NOT NULL,"
                                  " epoch TEXT NOT NULL,"
                                  " PRIMARY KEY (tenant_id, channel));"
                                  "CREATE TABLE realtime_events ("
                                  " tenant_id TEXT NOT NULL,"
                                  " channel TEXT NOT NULL,"
                                  " seq BIGINT NOT NULL,"
                                  " type TEXT NOT NULL,"
                                  " data TEXT NOT NULL,"
                                  " at BIGINT NOT NULL,"
                                  " PRIMARY KEY (tenant_id, channel, seq))";

const cn_migration_t cn_events_migrations[] = {
    {1, "create_realtime",
     "CREATE TABLE realtime_channels ("
     " tenant_id TEXT NOT NULL,"
     " channel TEXT NOT NULL,"
     " seq INTEGER NOT NULL,"
     " epoch TEXT NOT NULL,"
     " PRIMARY KEY (tenant_id, channel)) WITHOUT ROWID;"
     "CREATE TABLE realtime_events ("
     " tenant_id TEXT NOT NULL,"
     " channel TEXT NOT NULL,"
     " seq INTEGER NOT NULL,"
     " type TEXT NOT NULL,"
     " data TEXT NOT NULL,"
     " at INTEGER NOT NULL,"
     " PRIMARY KEY (tenant_id, channel, seq)) WITHOUT ROWID",
     realtime_pg},
    {0},
};

void cn_events_configure(int64_t history_count, int64_t history_age_s)
{
    event_bus.history_count = history_count;
    event_bus.history_age_ms = history_age_s * 1000;
}

void cn_events_subscribe(const char *type_prefix, cn_event_fn fn, void *ud)
{
    if (event_bus.n_subs == MAX_SUBSCRIBERS) {
        cn_log(CN_LOG_ERROR, NULL, "too many event subscribers; %s ignored", type_prefix);
        return;
    }
    snprintf(event_bus.subs[event_bus.n_subs].prefix, sizeof(event_bus.subs[0].prefix), "%s",
             type_prefix);
    event_bus.subs[event_bus.n_subs].prefix_len = strlen(event_bus.subs[event_bus.n_subs].prefix);
    event_bus.subs[event_bus.n_subs].fn = fn;
    event_bus.subs[event_bus.n_subs].ud = ud;
    event_bus.n_subs++;
}

void cn_events_reset(void)
{
    pthread_mutex_lock(&event_bus.lock);
    for (size_t i = 0; i < event_bus.cap; i++)
        for (chan_t *c = event_bus.buckets[i], *next; c != NULL; c = next) {
            next = c->next;
            free(c);
        }
    free(event_bus.buckets);
    event_bus.buckets = NULL;
    event_bus.cap = event_bus.count = 0;
    event_bus.n_subs = 0;
    pthread_mutex_unlock(&event_bus.lock);
    cn__events_order_reset();
}

int cn_events_channel_valid(const char *channel)
{
    size_t n = strlen(channel);
    if (n == 0 || n > CN_CHANNEL_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = channel[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == ':'))
            return 0;
    }
    return 1;
}

/* ---- the channel table (event_bus.lock held) ---- */

uint64_t cn__events_key_hash(const char *tenant, const char *channel)
{
    uint64_t h = cn_fnv1a(CN_FNV_OFFSET, tenant, strlen(tenant));
    return cn_fnv1a(cn_fnv1a(h, "\n", 1), channel, strlen(channel));
}

static chan_t *find(const char *tenant, const char *channel, uint64_t h)
{
    if (event_bus.cap == 0)
        return NULL;
    size_t tl = strlen(tenant);
    for (chan_t *c = event_bus.buckets[h & (event_bus.cap - 1)]; c != NULL; c = c->next)
        if (c->hash == h && c->tenant_len == tl && memcmp(c->key, tenant, tl) == 0 &&
            strcmp(c->key + tl + 1, channel) == 0)
            return c;
    return NULL;
}

/* Forgets channels with nothing staged (their position is read from the store again). */
static void forget_idle(void)
{
    for (size_t i = 0; i < event_bus.cap; i++)
        for (chan_t **pc = &event_bus.buckets[i]; *pc != NULL;) {
            chan_t *c = *pc;
            if (c->refs == 0) {
                *pc = c->next;
                free(c);
                event_bus.count--;
            } else {
                pc = &c->next;
            }
        }
}

static void insert(chan_t *c)
{
    if (event_bus.count >= MAX_CACHED_CHANNELS)
        forget_idle();
    if (event_bus.count + 1 > event_bus.cap / 2) {
        size_t cap = event_bus.cap ? event_bus.cap * 2 : 256;
        chan_t **b = cn_calloc(cap, sizeof(chan_t *));
        for (size_t i = 0; i < event_bus.cap; i++)
            for (chan_t *x = event_bus.buckets[i], *next; x != NULL; x = next) {
                next = x->next;
                x->next = b[x->hash & (cap - 1)];
                b[x->hash & (cap - 1)] = x;
            }
        free(event_bus.buckets);
        event_bus.buckets = b;
        event_bus.cap = cap;
    }
    c->next = event_bus.buckets[c->hash & (event_bus.cap - 1)];
    event_bus.buckets[c->hash & (event_bus.cap - 1)] = c;
    event_bus.count++;
}

static void new_epoch(char out[CN_EPOCH_LEN + 1])
{
    uint8_t b[CN_EPOCH_LEN / 2];
    cn_random(b, sizeof(b));
    sodium_bin2hex(out, CN_EPOCH_LEN + 1, b, sizeof(b));
}

/* Reads a channel's committed position from the store: 0, CN_ENOTFOUND (no event yet:
 * err untouched), or another negative code. */
static int load_position(cn_store_t *s, const char *tenant, const char *channel, int64_t *seq,
                         char epoch[CN_EPOCH_LEN + 1], cn_err_t *err)
{
    cn_val_t args[] = {CN_VTEXT(tenant), CN_VTEXT(channel)};
    cn_stmt_t *st;
    int rc = cn_store_query(
        s, "SELECT seq, epoch FROM realtime_channels WHERE tenant_id = $1 AND channel = $2", args,
        2, &st, err);
    if (rc != 0)
        return rc;
    rc = cn_stmt_step(st, err);
    if (rc == CN_ROW) {
        *seq = cn_stmt_int(st, 0);
        snprintf(epoch, CN_EPOCH_LEN + 1, "%s", cn_stmt_text(st, 1, NULL));
    }
    cn_stmt_finish(st);
    return rc == CN_ROW ? CN_OK : rc < 0 ? rc : CN_ENOTFOUND;
}

/* The channel's entry, found or made, counted as referenced by one more staged event.
 * Nothing is read here: the precommit's upsert says where the channel stands. */
static chan_t *channel_for_publish(const char *tenant, const char *channel)
{
    uint64_t h = cn__events_key_hash(tenant, channel);
    pthread_mutex_lock(&event_bus.lock);
    chan_t *c = find(tenant, channel, h);
    if (c == NULL) {
        size_t tl = strlen(tenant), cl = strlen(channel);
        c = cn_calloc(1, sizeof(*c) + tl + cl + 2);
        c->hash = h;
        c->pruned_at_ms = cn_now_ms();
        new_epoch(c->epoch); /* used only if the channel has no row yet */
        c->tenant_len = tl;
        memcpy(c->key, tenant, tl);
        c->key[tl] = '\n';
        memcpy(c->key + tl + 1, channel, cl + 1);
        insert(c);
    }
    c->refs++;
    pthread_mutex_unlock(&event_bus.lock);
    return c;
}

/* On SQLite this process is the only writer: the last position a commit here was told is
 * the channel's. On PostgreSQL other nodes commit too, so the channel's row is read. Either
 * way the answer is never older than what this process delivered already: a client told
 * an older position would get those events twice, or resync_required for nothing. */
int cn_events_position(cn_store_t *s, const char *tenant, const char *channel, int64_t *seq,
                       char epoch[CN_EPOCH_LEN + 1], cn_err_t *err)
{
    int known = 0;
    if (!cn_store_is_postgres(s)) {
        pthread_mutex_lock(&event_bus.lock);
        chan_t *c = find(tenant, channel, cn__events_key_hash(tenant, channel));
        known = c != NULL && c->known;
        if (known) {
            *seq = c->committed;
            memcpy(epoch, c->epoch, CN_EPOCH_LEN + 1);
        }
        pthread_mutex_unlock(&event_bus.lock);
    }
    if (!known) {
        *seq = 0;
        epoch[0] = '\0'; /* a channel nobody published on yet */
        int rc = load_position(s, tenant, channel, seq, epoch, err);
        if (rc != 0 && rc != CN_ENOTFOUND)
            return rc;
    }
    cn__events_floor(tenant, channel, seq, epoch);
    return 0;
}

/* ---- publishing ---- */

int cn_event_publish_text(cn_store_t *s, const char *tenant, const char *channel, const char *type,
                          const char *data, size_t data_len, cn_err_t *err)
{
    if (!cn_events_channel_valid(channel))
        return cn_err_set(err, CN_ERR, "invalid channel name: %s", channel);
    if (cn_store_is_batching(s) && !cn_store_batch_open(s)) {
        int rc = cn_store_batch_begin(s, err);
        if (rc != 0)
            return rc;
    }
    if (!cn_store_in_txn(s) && !cn_store_batch_open(s))
        return cn_err_set(err, CN_ERR, "events are published inside a write transaction");
    if (staged.n > 0 && staged.store != s)
        return cn_err_set(err, CN_ERR, "one thread publishes through one connection at a time");
    if (staged.n == staged.cap) {
        staged.cap = staged.cap ? staged.cap * 2 : 32;
        staged.v = cn_realloc(staged.v, staged.cap * sizeof(staged_t));
    }
    size_t tl = strlen(type);
    staged_t *e = &staged.v[staged.n++];
    e->ch = channel_for_publish(tenant, channel);
    e->seq = 0;
    e->at = cn_now_ms();
    e->type = cn_malloc(tl + 1 + data_len + 1);
    memcpy(e->type, type, tl + 1);
    e->data = e->type + tl + 1;
    memcpy(e->data, data, data_len);
    e->data[data_len] = '\0';
    e->data_len = data_len;
    e->depth = cn_store_unit_depth(s);
    staged.store = s;
    return 0;
}

int cn_event_publish(cn_store_t *s, const char *tenant, const char *channel, const char *type,
                     json_t *data, cn_err_t *err)
{
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    int rc = cn_event_publish_text(s, tenant, channel, type, text ? text : "{}",
                                   text ? strlen(text) : 2, err);
    free(text);
    return rc;
}

/* ---- following the transaction (store hooks) ---- */

static void drop_staged(size_t from)
{
    pthread_mutex_lock(&event_bus.lock);
    for (size_t i = from; i < staged.n; i++)
        staged.v[i].ch->refs--;
    pthread_mutex_unlock(&event_bus.lock);
    for (size_t i = from; i < staged.n; i++)
        free(staged.v[i].type);
    staged.n = from;
    if (from == 0) {
        free(staged.v); /* a thread-local buffer must not outlive its thread */
        staged.v = NULL;
        staged.cap = 0;
        staged.store = NULL;
    }
}

#define HISTORY_BATCH CN_ROWS_MAX
static cn_rows_sql_t history_insert = {
    "INSERT INTO realtime_events (tenant_id, channel, seq, type, data, at)", 6};

/* Writes staged events v[0..n) (n <= HISTORY_BATCH) with one statement. */
static int write_history(cn_store_t *s, const staged_t *v, size_t n, cn_err_t *err)
{
    cn_val_t args[6 * HISTORY_BATCH];
    for (size_t i = 0; i < n; i++) {
        const chan_t *c = v[i].ch;
        cn_val_t *a = &args[6 * i];
        a[0] = CN_VTEXTN(c->key, c->tenant_len);
        a[1] = CN_VTEXT(c->key + c->tenant_len + 1);
        a[2] = CN_VINT(v[i].seq);
        a[3] = CN_VTEXT(v[i].type);
        a[4] = CN_VTEXTN(v[i].data, v[i].data_len);
        a[5] = CN_VINT(v[i].at);
    }
    return cn_store_exec(s, cn_rows_sql(&history_insert, n), args, 6 * n, NULL, err);
}

const char cn_events_allocate_sql[] =
    "INSERT INTO realtime_channels (tenant_id, channel, seq, epoch)"
    " VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, channel)"
    " DO UPDATE SET seq = realtime_channels.seq + excluded.seq RETURNING seq, epoch";

/* Numbers a channel's n events of this transaction: adds n to its position in the
 * database (making the row, with a new epoch, for a channel's first event) and reads back
 * the new position and the epoch. The row stays locked until the transaction ends. */
static int allocate(cn_store_t *s, chan_t *c, int64_t n, int64_t *last,
                    char epoch[CN_EPOCH_LEN + 1], cn_err_t *err)
{
    pthread_mutex_lock(&event_bus.lock);
    memcpy(epoch, c->epoch, CN_EPOCH_LEN + 1);
    pthread_mutex_unlock(&event_bus.lock);
    cn_val_t args[] = {CN_VTEXTN(c->key, c->tenant_len), CN_VTEXT(c->key + c->tenant_len + 1),
                       CN_VINT(n), CN_VTEXT(epoch)};
    cn_stmt_t *st;
    int rc = cn_store_query(s, cn_events_allocate_sql, args, 4, &st, err);
    if (rc != 0)
        return rc;
    if ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        *last = cn_stmt_int(st, 0);
        snprintf(epoch, CN_EPOCH_LEN + 1, "%s", cn_stmt_text(st, 1, NULL));
    }
    cn_stmt_finish(st);
    return rc == CN_ROW ? 0 : rc < 0 ? rc : cn_err_set(err, CN_ERR, "no position returned");
}

/* Trims a channel's history to the configured bounds after its numbers reached last (n of
 * them in this transaction). By count whenever the numbering crosses a multiple of
 * PRUNE_EVERY, whichever process wrote it; by age at most once a minute per process.
 * A count prune reads a range of the primary key bounded below too: the prune at the
 * previous multiple (in the transaction that numbered it) removed everything older, and on
 * PostgreSQL those deleted rows stay in the index until a vacuum, so an open range would
 * step over all of them every time (the cost of a POST grew with the table). A process's
 * first prune of a channel is open below, for what a larger history.count left. */
static int prune(cn_store_t *s, chan_t *c, int64_t last, int64_t n, int64_t now, cn_err_t *err)
{
    cn_val_t ch[] = {CN_VTEXTN(c->key, c->tenant_len), CN_VTEXT(c->key + c->tenant_len + 1)};
    int rc = 0;
    if (last > event_bus.history_count && (last - n) / PRUNE_EVERY != last / PRUNE_EVERY) {
        int64_t upto = last - event_bus.history_count;
        pthread_mutex_lock(&event_bus.lock);
        int64_t above = c->count_pruned ? upto - n - PRUNE_EVERY : INT64_MIN;
        c->count_pruned = 1;
        pthread_mutex_unlock(&event_bus.lock);
        cn_val_t del[] = {ch[0], ch[1], CN_VINT(upto), CN_VINT(above)};
        rc = cn_store_exec(s,
                           "DELETE FROM realtime_events WHERE tenant_id = $1 AND channel = $2"
                           " AND seq <= $3 AND seq > $4",
                           del, 4, NULL, err);
    }
    pthread_mutex_lock(&event_bus.lock);
    int by_age = now - c->pruned_at_ms >= AGE_PRUNE_EVERY_MS;
    pthread_mutex_unlock(&event_bus.lock);
    if (rc == 0 && by_age) {
        /* events are in seq and time order: everything before the first young one goes */
        cn_val_t del[] = {ch[0], ch[1], CN_VINT(now - event_bus.history_age_ms)};
        rc = cn_store_exec(s,
                           "DELETE FROM realtime_events WHERE tenant_id = $1 AND channel = $2"
                           " AND seq < COALESCE((SELECT seq FROM realtime_events WHERE"
                           " tenant_id = $1 AND channel = $2 AND at >= $3 ORDER BY seq LIMIT 1),"
                           " 9223372036854775807)",
                           del, 3, NULL, err);
        pthread_mutex_lock(&event_bus.lock);
        if (rc == 0)
            c->pruned_at_ms = now;
        pthread_mutex_unlock(&event_bus.lock);
    }
    return rc;
}

/* Orders staged events (by index) by channel key, then by publication: the channels are
 * numbered in one order in every process, so concurrent writers lock their rows alike. */
static int by_channel(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const chan_t *x = staged.v[i].ch, *y = staged.v[j].ch;
    int c = x == y ? 0 : strcmp(x->key, y->key);
    return c != 0 ? c : (i > j) - (i < j);
}

/* Numbers the staged events, channel by channel (order holds their indexes sorted by
 * by_channel), then trims each channel's history once the events are in it. */
static int number_and_write(cn_store_t *s, const size_t *order, cn_err_t *err)
{
    int rc = 0;
    for (size_t i = 0, j; i < staged.n && rc == 0; i = j) {
        chan_t *c = staged.v[order[i]].ch;
        for (j = i; j < staged.n && staged.v[order[j]].ch == c;)
            j++;
        int64_t last = 0;
        char epoch[CN_EPOCH_LEN + 1];
        rc = allocate(s, c, (int64_t)(j - i), &last, epoch, err);
        for (size_t k = i; k < j && rc == 0; k++) {
            staged_t *e = &staged.v[order[k]];
            e->seq = last - (int64_t)(j - k) + 1;
            memcpy(e->epoch, epoch, sizeof(epoch));
        }
    }
    for (size_t i = 0; i < staged.n && rc == 0; i += HISTORY_BATCH) {
        size_t n = staged.n - i < HISTORY_BATCH ? staged.n - i : HISTORY_BATCH;
        rc = write_history(s, &staged.v[i], n, err);
    }
    int64_t now = cn_now_ms();
    for (size_t i = 0, j; i < staged.n && rc == 0; i = j) {
        chan_t *c = staged.v[order[i]].ch;
        for (j = i; j < staged.n && staged.v[order[j]].ch == c;)
            j++;
        rc = prune(s, c, staged.v[order[j - 1]].seq, (int64_t)(j - i), now, err);
    }
    return rc;
}

static int precommit(cn_store_t *s, cn_err_t *err)
{
    if (staged.n == 0 || staged.store != s)
        return 0;
    size_t *order = cn_malloc(staged.n * sizeof(size_t));
    for (size_t i = 0; i < staged.n; i++)
        order[i] = i;
    qsort(order, staged.n, sizeof(size_t), by_channel);
    int rc = number_and_write(s, order, err);
    free(order);
    return rc;
}

void cn__events_dispatch(const cn_event_t *ev)
{
    for (int i = 0; i < event_bus.n_subs; i++)
        if (strncmp(ev->type, event_bus.subs[i].prefix, event_bus.subs[i].prefix_len) == 0)
            event_bus.subs[i].fn(ev, event_bus.subs[i].ud);
}

/* A committed event: to the other nodes, and to this one's subscribers in seq order. */
static void deliver(const staged_t *e)
{
    const chan_t *c = e->ch;
    char tenant[128];
    size_t tl = c->tenant_len < sizeof(tenant) - 1 ? c->tenant_len : sizeof(tenant) - 1;
    memcpy(tenant, c->key, tl);
    tenant[tl] = '\0';
    cn_event_t ev = {
        tenant, c->key + c->tenant_len + 1, e->type, e->data, e->data_len, e->seq, e->epoch, e->at};
    cn__events_publish(&ev);
    cn__events_accept(&ev);
}

static void end(cn_store_t *s, int committed)
{
    if (staged.n == 0 || staged.store != s)
        return;
    if (committed) {
        /* the database's numbers: a position only moves forward within one epoch */
        pthread_mutex_lock(&event_bus.lock);
        for (size_t i = 0; i < staged.n; i++) {
            const staged_t *e = &staged.v[i];
            chan_t *c = e->ch;
            if (!c->known || strcmp(c->epoch, e->epoch) != 0 || e->seq > c->committed) {
                c->committed = e->seq;
                memcpy(c->epoch, e->epoch, sizeof(c->epoch));
                c->known = 1;
            }
        }
        pthread_mutex_unlock(&event_bus.lock);
        for (size_t i = 0; i < staged.n; i++)
            deliver(&staged.v[i]);
    }
    drop_staged(0);
}

static void unit_end(cn_store_t *s, int committed)
{
    if (staged.n == 0 || staged.store != s)
        return;
    int depth = cn_store_unit_depth(s);
    size_t keep = staged.n;
    for (size_t i = 0; i < staged.n; i++) {
        if (staged.v[i].depth < depth)
            continue;
        if (committed) {
            staged.v[i].depth = depth - 1;
        } else if (i < keep) {
            keep = i; /* a unit's events are the tail: it ran after everything before it */
        }
    }
    if (keep < staged.n)
        drop_staged(keep); /* unnumbered yet: nothing to give back */
}

const cn_store_hook_t cn_events_hook = {.precommit = precommit, .end = end, .unit_end = unit_end};

/* ---- history ---- */

int cn_events_replay(cn_store_t *s, const char *tenant, const char *channel, int64_t since,
                     const char *epoch, cn_position_t *pos, cn_replay_fn fn, void *ud,
                     cn_err_t *err)
{
    int rc = cn_events_position(s, tenant, channel, &pos->seq, pos->epoch, err);
    if (rc != 0)
        return rc;
    if (since < 0)
        return 0; /* from now on */
    if ((epoch != NULL && epoch[0] && pos->epoch[0] && strcmp(epoch, pos->epoch) != 0) ||
        since > pos->seq)
        return CN_RESYNC; /* another numbering: what the client holds cannot be continued */
    if (since == pos->seq)
        return 0;
    cn_val_t args[] = {CN_VTEXT(tenant), CN_VTEXT(channel), CN_VINT(since),
                       CN_VINT(cn_now_ms() - event_bus.history_age_ms)};
    cn_stmt_t *st;
    if ((rc = cn_store_query(s,
                             "SELECT seq, type, data, at FROM realtime_events WHERE tenant_id = $1"
                             " AND channel = $2 AND seq > $3 AND at >= $4 ORDER BY seq",
                             args, 4, &st, err)) != 0)
        return rc;
    int64_t expect = since + 1;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        int64_t seq = cn_stmt_int(st, 0);
        if (seq != expect) {
            rc = CN_RESYNC; /* the oldest kept event is newer than the client's gap */
            break;
        }
        size_t dl;
        const char *data = cn_stmt_text(st, 2, &dl);
        cn_event_t ev = {tenant, channel,    cn_stmt_text(st, 1, NULL), data, dl,
                         seq,    pos->epoch, cn_stmt_int(st, 3)};
        if ((rc = fn(&ev, ud)) != 0)
            break;
        expect++;
    }
    cn_stmt_finish(st);
    if (rc == CN_DONE)
        rc = expect > pos->seq ? 0 : CN_RESYNC; /* history ended before the position */
    return rc;
}
