/*
 * SQLite driver for the store interface (store.h): WAL, foreign keys, busy timeout and a
 * prepared-statement cache per connection. Writers from different threads of this
 * process are serialised by one mutex before SQLite's own lock, so a writer waits on a
 * futex instead of SQLite's sleeping busy handler; the busy timeout only matters against
 * other processes (cairn migrate, cairn backup).
 *
 * Each cn_store_t reads on its own connection, but every write transaction runs on one
 * connection per database shared by the process (taken with that mutex). A connection
 * whose last transaction was not the latest commit drops its whole page cache and reads
 * the pages back; with one writer, the pages that writes touch (index leaves at the
 * insertion points) stay cached between transactions whichever thread writes.
 */
#include "store/driver.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct conn_t conn_t;

typedef struct sq_stmt_t {
    cn_stmt_t base;
    char *sql; /* owned copy; the cache key */
    uint64_t hash;
    sqlite3_stmt *stmt;
    int *param_index; /* param_index[k] = SQLite index of "$k", 1..n_params */
    int n_params;
    conn_t *conn; /* the connection it was prepared on */
} sq_stmt_t;

/* A SQLite connection and its statement cache. */
struct conn_t {
    sqlite3 *db;
    sq_stmt_t **cache; /* open addressing, power-of-two capacity */
    size_t cache_cap, cache_count;
    /* most SQL is a string literal: its address finds the statement without hashing the
     * text (a direct-mapped hint, confirmed with strcmp since buffers get reused) */
    struct {
        const char *sql;
        sq_stmt_t *st;
    } hint[64];
};

/* The process's write connection to one database, shared by its stores under write_lock
 * (opened with the same options, so a checkpointing mode is never mixed up). */
typedef struct writer_t {
    conn_t conn;
    char key[4200];
    int refs;
    struct writer_t *next;
} writer_t;

typedef struct sq_store_t {
    cn_store_t base;
    conn_t own;       /* reads outside write transactions */
    writer_t *writer; /* everything inside them */
    int read_open;    /* batching: a read transaction spans the loop turn's reads */
} sq_store_t;

static inline sq_store_t *sq(cn_store_t *s)
{
    return (sq_store_t *)s;
}

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

/* cn_store_checkpoint: unlocked passes until one copies at most this many frames */
#define CHECKPOINT_LOCKED_FRAMES 256
#define CHECKPOINT_PASSES 8

/*
 * Event loops do not block on write_lock (cn_store_batch_try_begin): a loop that finds it
 * taken goes on reading requests, which join its next batch, and is woken when the lock
 * is released. The loop that releases it while another waits lets that one go first for
 * a short while, or the releasing loop, which finds new writes at once, would keep it.
 */
#define WAITERS_MAX 64
#define HANDOFF_NS (2 * 1000000)
static pthread_mutex_t waiters_lock = PTHREAD_MUTEX_INITIALIZER;
static cn_store_t *waiters[WAITERS_MAX];
static _Atomic size_t n_waiters;
static cn_store_t *_Atomic handoff_from; /* released the lock while a loop waited */
static _Atomic uint64_t handoff_until_ns;
static _Thread_local cn_store_t *lock_owner; /* this thread's store holding write_lock */

static void write_unlock(void)
{
    cn_store_t *owner = lock_owner;
    lock_owner = NULL;
    pthread_mutex_unlock(&write_lock);
    if (atomic_load_explicit(&n_waiters, memory_order_acquire) == 0)
        return;
    /* wakes under waiters_lock, so a loop that removed its waker is never woken after */
    pthread_mutex_lock(&waiters_lock);
    size_t n = atomic_load(&n_waiters);
    if (n > 0 && owner != NULL) {
        atomic_store(&handoff_until_ns, cn_now_ns() + HANDOFF_NS);
        atomic_store(&handoff_from, owner);
    }
    for (size_t i = 0; i < n; i++)
        waiters[i]->wake(waiters[i]->wake_ud);
    atomic_store(&n_waiters, 0);
    pthread_mutex_unlock(&waiters_lock);
}

static void add_waiter(cn_store_t *s)
{
    pthread_mutex_lock(&waiters_lock);
    size_t n = atomic_load(&n_waiters), i = 0;
    while (i < n && waiters[i] != s)
        i++;
    if (i == n && n < WAITERS_MAX) {
        waiters[n] = s;
        atomic_store_explicit(&n_waiters, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&waiters_lock);
}

static void remove_waiter(cn_store_t *s)
{
    pthread_mutex_lock(&waiters_lock);
    size_t n = atomic_load(&n_waiters);
    for (size_t i = 0; i < n; i++)
        if (waiters[i] == s) {
            waiters[i] = waiters[--n];
            atomic_store(&n_waiters, n);
            break;
        }
    pthread_mutex_unlock(&waiters_lock);
}

static pthread_mutex_t writers_lock = PTHREAD_MUTEX_INITIALIZER;
static writer_t *writers;

static int map_rc(sqlite3 *db, int rc, cn_err_t *err)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return cn_err_set(err, CN_ECONFLICT, "%s", msg);
        return cn_err_set(err, CN_EVALIDATION, "%s", msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return cn_err_set(err, CN_EBUSY, "database is busy: %s", msg);
    default: return cn_err_set(err, CN_ERR, "sqlite: %s", msg);
    }
}

static int pragma(sqlite3 *db, const char *sql, cn_err_t *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        cn_err_set(err, CN_ERR, "%s: %s", sql, msg ? msg : "failed");
        sqlite3_free(msg);
        return CN_ERR;
    }
    return 0;
}

static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

static void sqlite_global_init(void)
{
    /* memory statistics take a global mutex on every allocation; we do not read them */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
}

static int open_conn(const cn_store_opts_t *opts, const char *path, int64_t cache_bytes, conn_t *c,
                     cn_err_t *err)
{
    sqlite3 *db = NULL;
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (opts->must_exist ? 0 : SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        cn_err_set(err, CN_ERR, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
        sqlite3_close(db);
        return CN_ERR;
    }
    sqlite3_busy_timeout(db, opts->busy_timeout_ms);
    sqlite3_extended_result_codes(db, 1);
    char sync[64], cache[64];
    snprintf(sync, sizeof(sync), "PRAGMA synchronous=%s",
             opts->synchronous_full ? "FULL" : "NORMAL");
    /* negative: a size in KiB; pages are allocated as used, so an idle connection stays small */
    snprintf(cache, sizeof(cache), "PRAGMA cache_size=%lld",
             cache_bytes > 0 ? -(long long)(cache_bytes / 1024) : -2000LL);
    if (pragma(db, "PRAGMA journal_mode=WAL", err) || pragma(db, sync, err) ||
        pragma(db, "PRAGMA foreign_keys=ON", err) || pragma(db, "PRAGMA temp_store=MEMORY", err) ||
        pragma(db, cache, err) ||
        (opts->manual_checkpoint && pragma(db, "PRAGMA wal_autocheckpoint=0", err))) {
        sqlite3_close(db);
        return CN_ERR;
    }
    memset(c, 0, sizeof(*c));
    c->db = db;
    c->cache_cap = 64;
    c->cache = cn_calloc(c->cache_cap, sizeof(cn_stmt_t *));
    return 0;
}

static void close_conn(conn_t *c);

/* Finds or opens the write connection for this database and these options. */
static writer_t *writer_acquire(const cn_store_opts_t *opts, const char *path, cn_err_t *err)
{
    char key[sizeof(((writer_t *)0)->key)];
    snprintf(key, sizeof(key), "%d.%d.%s", opts->synchronous_full, opts->manual_checkpoint, path);
    pthread_mutex_lock(&writers_lock);
    writer_t *w = writers;
    while (w && strcmp(w->key, key) != 0)
        w = w->next;
    if (w == NULL) {
        w = cn_calloc(1, sizeof(*w));
        int64_t bytes = opts->write_cache_bytes ? opts->write_cache_bytes : opts->cache_bytes;
        if (open_conn(opts, path, bytes, &w->conn, err) != 0) {
            free(w);
            pthread_mutex_unlock(&writers_lock);
            return NULL;
        }
        snprintf(w->key, sizeof(w->key), "%s", key);
        w->next = writers;
        writers = w;
    }
    w->refs++;
    pthread_mutex_unlock(&writers_lock);
    return w;
}

static void writer_release(writer_t *w)
{
    pthread_mutex_lock(&writers_lock);
    if (--w->refs == 0) {
        writer_t **p = &writers;
        while (*p != w)
            p = &(*p)->next;
        *p = w->next;
        close_conn(&w->conn);
        free(w);
    }
    pthread_mutex_unlock(&writers_lock);
}

static const cn_store_driver_t sqlite_driver;

int cn__sqlite_open(const cn_store_opts_t *opts, cn_store_t **out, cn_err_t *err)
{
    pthread_once(&sqlite_once, sqlite_global_init);
    if (!opts->must_exist && mkdir(opts->data_dir, 0700) != 0 && errno != EEXIST)
        return cn_err_set(err, CN_ERR, "cannot create data directory %s: %s", opts->data_dir,
                          strerror(errno));
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/cairn.db", opts->data_dir) >= sizeof(path))
        return cn_err_set(err, CN_ERR, "data directory path is too long");
    if (opts->must_exist && access(path, F_OK) != 0)
        return cn_err_set(err, CN_ENOTFOUND, "no database at %s", path);
    sq_store_t *s = cn_calloc(1, sizeof(*s));
    if (open_conn(opts, path, opts->cache_bytes, &s->own, err) != 0) {
        free(s);
        return CN_ERR;
    }
    if ((s->writer = writer_acquire(opts, path, err)) == NULL) {
        close_conn(&s->own);
        free(s);
        return CN_ERR;
    }
    s->base.drv = &sqlite_driver;
    s->base.on_query = opts->on_query;
    *out = &s->base;
    return 0;
}

static void stmt_free(sq_stmt_t *st)
{
    sqlite3_finalize(st->stmt);
    free(st->param_index);
    free(st->sql);
    free(st);
}

static void close_conn(conn_t *c)
{
    for (size_t i = 0; i < c->cache_cap; i++)
        if (c->cache[i])
            stmt_free(c->cache[i]);
    free(c->cache);
    sqlite3_close(c->db);
}

static void sq_close(cn_store_t *s)
{
    remove_waiter(s);
    close_conn(&sq(s)->own);
    writer_release(sq(s)->writer);
    free(s);
}

static void cache_insert(conn_t *c, sq_stmt_t *st)
{
    if ((c->cache_count + 1) * 2 > c->cache_cap) {
        size_t old_cap = c->cache_cap;
        sq_stmt_t **old = c->cache;
        c->cache_cap *= 2;
        c->cache = cn_calloc(c->cache_cap, sizeof(sq_stmt_t *));
        c->cache_count = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i])
                cache_insert(c, old[i]);
        free(old);
    }
    size_t i = st->hash & (c->cache_cap - 1);
    while (c->cache[i])
        i = (i + 1) & (c->cache_cap - 1);
    c->cache[i] = st;
    c->cache_count++;
}

/* Maps each $k of st's SQL to SQLite's parameter index; refuses any other form or a gap. */
static int index_params(sq_stmt_t *st, cn_err_t *err)
{
    int count = sqlite3_bind_parameter_count(st->stmt);
    st->param_index = cn_calloc((size_t)count + 1, sizeof(int));
    for (int k = 1; k <= count; k++) {
        const char *name = sqlite3_bind_parameter_name(st->stmt, k);
        int n = name && name[0] == '$' ? atoi(name + 1) : 0;
        if (n < 1 || n > count) /* only $1..$n are part of the shared dialect */
            return cn_err_set(err, CN_ERR, "bad parameter %s in: %s", name ? name : "?", st->sql);
        st->param_index[n] = k;
        if (n > st->n_params)
            st->n_params = n;
    }
    return 0;
}

static sq_stmt_t *prepare(conn_t *c, const char *sql, cn_err_t *err)
{
    size_t slot = ((uintptr_t)sql >> 3) & (CN_ARRAY_SIZE(c->hint) - 1);
    if (c->hint[slot].sql == sql && strcmp(c->hint[slot].st->sql, sql) == 0)
        return c->hint[slot].st;
    uint64_t h = cn_hash_str(sql);
    for (size_t i = h & (c->cache_cap - 1); c->cache[i]; i = (i + 1) & (c->cache_cap - 1))
        if (c->cache[i]->hash == h && strcmp(c->cache[i]->sql, sql) == 0) {
            c->hint[slot].sql = sql;
            c->hint[slot].st = c->cache[i];
            return c->cache[i];
        }
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK) {
        cn_err_set(err, CN_ERR, "prepare failed: %s", sqlite3_errmsg(c->db));
        return NULL;
    }
    sq_stmt_t *st = cn_calloc(1, sizeof(*st));
    st->sql = cn_strdup(sql);
    st->hash = h;
    st->stmt = stmt;
    st->conn = c;
    st->base.readonly = sqlite3_stmt_readonly(stmt);
    if (index_params(st, err) != 0) {
        stmt_free(st);
        return NULL;
    }
    cache_insert(c, st);
    return st;
}

static int sq_prepare(cn_store_t *s, const char *sql, int write, cn_stmt_t **out, cn_err_t *err)
{
    sq_stmt_t *st = prepare(write ? &sq(s)->writer->conn : &sq(s)->own, sql, err);
    if (st == NULL)
        return CN_ERR;
    *out = &st->base;
    return 0;
}

/* Runs a transaction-control statement through the statement cache: sqlite3_exec would
 * parse it again on every call, and these run several times per request. Returns a
 * SQLite result code (SQLITE_OK when it completed). */
static int run(conn_t *c, const char *sql)
{
    sq_stmt_t *st = prepare(c, sql, NULL);
    if (st == NULL)
        return SQLITE_ERROR;
    int rc = sqlite3_step(st->stmt);
    sqlite3_reset(st->stmt);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int sq_control(cn_store_t *s, const char *sql, cn_err_t *err)
{
    conn_t *c = &sq(s)->writer->conn;
    int rc = run(c, sql);
    return rc == SQLITE_OK ? 0 : map_rc(c->db, rc, err);
}

static int sq_aborted(cn_store_t *s)
{
    return sqlite3_get_autocommit(sq(s)->writer->conn.db);
}

static int sq_bind(cn_stmt_t *base, const cn_val_t *args, size_t n, cn_err_t *err)
{
    sq_stmt_t *st = (sq_stmt_t *)base;
    if ((int)n != st->n_params)
        return cn_err_set(err, CN_ERR, "statement wants %d parameters, got %zu: %s", st->n_params,
                          n, st->sql);
    for (size_t i = 0; i < n; i++) {
        int k = st->param_index[i + 1], rc;
        switch (args[i].type) {
        case CN_V_INT: rc = sqlite3_bind_int64(st->stmt, k, args[i].i); break;
        case CN_V_REAL: rc = sqlite3_bind_double(st->stmt, k, args[i].d); break;
        case CN_V_TEXT:
            rc = sqlite3_bind_text(st->stmt, k, args[i].s, (int)args[i].len, SQLITE_STATIC);
            break;
        case CN_V_BLOB:
            rc = sqlite3_bind_blob(st->stmt, k, args[i].s, (int)args[i].len, SQLITE_STATIC);
            break;
        default: rc = sqlite3_bind_null(st->stmt, k); break;
        }
        if (rc != SQLITE_OK)
            return map_rc(st->conn->db, rc, err);
    }
    return 0;
}

/*
 * Batching connections also keep one read transaction across a loop turn's reads: each
 * SQLite read transaction costs several fcntl() calls on the -shm file, and a turn may
 * answer dozens of reads. Reads still see only committed data, at most one turn old.
 */
static int sq_read_end(cn_store_t *s, cn_err_t *err)
{
    if (!sq(s)->read_open)
        return 0;
    int rc = run(&sq(s)->own, "COMMIT");
    if (rc != SQLITE_OK) /* a read statement is still stepping */
        return cn_err_set(err, CN_EBUSY, "cannot start writing while a read is in progress");
    sq(s)->read_open = 0;
    return 0;
}

static int sq_read_begin(cn_store_t *s, cn_err_t *err)
{
    if (sq(s)->read_open)
        return 0;
    int rc = run(&sq(s)->own, "BEGIN");
    if (rc != SQLITE_OK)
        return map_rc(sq(s)->own.db, rc, err);
    sq(s)->read_open = 1;
    return 0;
}

/* The process write lock; without wait, a loop that finds it taken is woken on release. */
static int sq_lock(cn_store_t *s, int wait, cn_err_t *err)
{
    (void)err;
    if (wait) {
        pthread_mutex_lock(&write_lock);
    } else {
        add_waiter(s); /* first: a release after a failed try must still wake this loop */
        int yield = atomic_load(&handoff_from) == s && cn_now_ns() < atomic_load(&handoff_until_ns);
        if (yield || pthread_mutex_trylock(&write_lock) != 0)
            return CN_EBUSY;
        remove_waiter(s);
        atomic_store(&handoff_from, NULL);
    }
    lock_owner = s;
    return 0;
}

static void sq_unlock(cn_store_t *s)
{
    (void)s;
    write_unlock();
}

static void sq_set_waker(cn_store_t *s, void (*wake)(void *), void *ud)
{
    remove_waiter(s);
    pthread_mutex_lock(&waiters_lock);
    s->wake = wake;
    s->wake_ud = ud;
    pthread_mutex_unlock(&waiters_lock);
}

static int sq_step(cn_stmt_t *base, cn_err_t *err)
{
    sq_stmt_t *st = (sq_stmt_t *)base;
    int rc = sqlite3_step(st->stmt);
    if (rc == SQLITE_ROW)
        return CN_ROW;
    if (rc == SQLITE_DONE)
        return CN_DONE;
    return map_rc(st->conn->db, sqlite3_extended_errcode(st->conn->db), err);
}

static int64_t sq_int(cn_stmt_t *st, int col)
{
    return sqlite3_column_int64(((sq_stmt_t *)st)->stmt, col);
}

static double sq_real(cn_stmt_t *st, int col)
{
    return sqlite3_column_double(((sq_stmt_t *)st)->stmt, col);
}

static const char *sq_text(cn_stmt_t *base, int col, size_t *len)
{
    sqlite3_stmt *stmt = ((sq_stmt_t *)base)->stmt;
    const char *t = (const char *)sqlite3_column_text(stmt, col);
    if (len)
        *len = t ? (size_t)sqlite3_column_bytes(stmt, col) : 0;
    return t;
}

static int sq_is_null(cn_stmt_t *st, int col)
{
    return sqlite3_column_type(((sq_stmt_t *)st)->stmt, col) == SQLITE_NULL;
}

static void sq_reset(cn_stmt_t *base)
{
    sq_stmt_t *st = (sq_stmt_t *)base;
    sqlite3_reset(st->stmt);
    sqlite3_clear_bindings(st->stmt);
}

static int64_t sq_changes(cn_stmt_t *st)
{
    return sqlite3_changes64(((sq_stmt_t *)st)->conn->db);
}

static int sq_exec_script(cn_store_t *s, const char *sql, cn_err_t *err)
{
    sqlite3 *db = s->batch_open || s->in_txn ? sq(s)->writer->conn.db : sq(s)->own.db;
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        cn_err_set(err, CN_ERR, "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return CN_ERR;
    }
    return 0;
}

static int sq_checkpoint(cn_store_t *s, cn_err_t *err)
{
    /* Passes without the lock copy the bulk while writers go on. They cannot finish under
     * steady writes (new frames keep arriving), and an unfinished checkpoint never lets the
     * WAL start over, so a last pass holds the write lock for the remainder. Each pass
     * copies what arrived during the one before, so repeating them until that is little
     * shortens the locked pass: under single-ingest load it held the lock 18-22 ms after
     * one unlocked pass, 5-16 ms after these (the WAL's own fsync is most of what is left). */
    sqlite3 *db = sq(s)->own.db;
    int done = 0, before, passes = 0, rc;
    do {
        before = done;
        rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, &done);
    } while (rc == SQLITE_OK && done - before > CHECKPOINT_LOCKED_FRAMES &&
             ++passes < CHECKPOINT_PASSES);
    if (rc == SQLITE_OK) {
        pthread_mutex_lock(&write_lock);
        rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        write_unlock();
    }
    return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : map_rc(db, rc, err);
}

/*
 * Copies the database into tmp. The file is created here with mode 0600 before SQLite
 * opens it: a backup holds every tenant's data and password hashes, and SQLite gives any
 * journal or WAL file it makes beside a database the database file's mode, whatever the
 * umask.
 */
static int backup_copy(cn_store_t *s, const char *tmp, cn_err_t *err)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return cn_err_set(err, CN_ERR, "cannot create %s: %s", tmp, strerror(errno));
    close(fd);
    sqlite3 *dst = NULL;
    int rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) {
        /* one step copies a single read snapshot: consistent even while others write */
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", sq(s)->own.db, "main");
        rc = b ? sqlite3_backup_step(b, -1) : sqlite3_errcode(dst);
        if (b)
            sqlite3_backup_finish(b);
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        cn_err_set(err, CN_ERR, "backup to %s failed: %s", tmp,
                   dst ? sqlite3_errmsg(dst) : "no memory");
    if (sqlite3_close(dst) != SQLITE_OK && rc == SQLITE_OK)
        rc = cn_err_set(err, CN_ERR, "backup to %s failed: cannot close it", tmp);
    return rc == SQLITE_OK ? 0 : CN_ERR;
}

/* fsync of a file or directory, so a backup that was reported written survives a crash. */
static int sync_path(const char *path, int flags, cn_err_t *err)
{
    int fd = open(path, flags | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    if (fd >= 0)
        close(fd);
    return rc == 0 ? 0 : cn_err_set(err, CN_ERR, "cannot sync %s: %s", path, strerror(errno));
}

/* Moves tmp to path: rename() replaces, link() refuses an existing path atomically. */
static int place_backup(const char *tmp, const char *path, int overwrite, cn_err_t *err)
{
    if (overwrite ? rename(tmp, path) != 0 : link(tmp, path) != 0)
        return errno == EEXIST ? cn_err_set(err, CN_ECONFLICT, "%s exists", path)
                               : cn_err_set(err, CN_ERR, "cannot move the backup into %s: %s", path,
                                            strerror(errno));
    if (!overwrite)
        unlink(tmp);
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else
        slash[slash == dir ? 1 : 0] = '\0';
    return sync_path(dir, O_RDONLY | O_DIRECTORY, err);
}

static int sq_backup(cn_store_t *s, const char *path, int overwrite, cn_err_t *err)
{
    char tmp[4096], side[4200];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid()) >= sizeof(tmp))
        return cn_err_set(err, CN_ERR, "backup path is too long");
    int rc = backup_copy(s, tmp, err);
    if (rc == 0)
        rc = sync_path(tmp, O_RDONLY, err);
    if (rc == 0)
        rc = place_backup(tmp, path, overwrite, err);
    if (rc != 0) { /* nothing half-written stays behind, at FILE or beside it */
        unlink(tmp);
        static const char *const ext[] = {"-journal", "-wal", "-shm"};
        for (size_t i = 0; i < 3; i++) {
            snprintf(side, sizeof(side), "%s%s", tmp, ext[i]);
            unlink(side);
        }
    }
    return rc;
}

static const cn_store_driver_t sqlite_driver = {
    .name = "sqlite",
    .begin_sql = "BEGIN IMMEDIATE", /* SQLite's write lock now, not at the first write */
    .prepare = sq_prepare,
    .bind = sq_bind,
    .step = sq_step,
    .col_int = sq_int,
    .col_real = sq_real,
    .col_text = sq_text,
    .col_is_null = sq_is_null,
    .reset = sq_reset,
    .changes = sq_changes,
    .lock = sq_lock,
    .unlock = sq_unlock,
    .control = sq_control,
    .aborted = sq_aborted,
    .read_begin = sq_read_begin,
    .read_end = sq_read_end,
    .exec_script = sq_exec_script,
    .checkpoint = sq_checkpoint,
    .backup = sq_backup,
    .set_waker = sq_set_waker,
    .close = sq_close,
};
