/*
 * The store: one small SQL interface over a driver (SQLite now, PostgreSQL later).
 * A cn_store_t is a handle used by one thread at a time (each event loop owns one): it
 * reads on its own connection and writes on the process's shared write connection. SQL is written
 * in the dialect SQLite and PostgreSQL share: $1..$n parameters, RETURNING, ON CONFLICT. Statements
 * are prepared once per connection and cached. This layer includes nothing above it.
 */
#ifndef CAIRN_STORE_STORE_H
#define CAIRN_STORE_STORE_H

#include "base/common.h"

typedef struct st_cn_store_t cn_store_t;
typedef struct st_cn_stmt_t cn_stmt_t;

typedef struct st_cn_store_opts_t {
    const char *data_dir;      /* the database lives in data_dir/cairn.db */
    int synchronous_full;      /* 0: durable against process crashes; 1: also power loss */
    int busy_timeout_ms;       /* waiting for another process's lock */
    int must_exist;            /* fail instead of creating a new, empty database */
    int manual_checkpoint;     /* do not checkpoint inside commits: cn_store_checkpoint() does */
    int64_t cache_bytes;       /* page cache of this connection; 0: SQLite's default (2 MB) */
    int64_t write_cache_bytes; /* of the shared write connection (its first opener's); 0:
                                  cache_bytes */
    void (*on_query)(uint64_t dur_ns); /* latency hook (metrics); may be NULL */
} cn_store_opts_t;

enum { CN_ROW = 1, CN_DONE = 2 };

typedef enum { CN_V_NULL = 0, CN_V_INT, CN_V_REAL, CN_V_TEXT } cn_vtype_t;

/** A bound parameter. Text is borrowed: it must outlive the statement's use. */
typedef struct st_cn_val_t {
    cn_vtype_t type;
    int64_t i;
    double d;
    const char *s;
    size_t len;
} cn_val_t;

#define CN_VNULL ((cn_val_t){.type = CN_V_NULL})
#define CN_VINT(x) ((cn_val_t){.type = CN_V_INT, .i = (x)})
#define CN_VREAL(x) ((cn_val_t){.type = CN_V_REAL, .d = (x)})
#define CN_VTEXT(x) ((cn_val_t){.type = CN_V_TEXT, .s = (x), .len = strlen(x)})
#define CN_VTEXTN(x, n) ((cn_val_t){.type = CN_V_TEXT, .s = (x), .len = (n)})

/** Opens (creating if needed) the database. Returns 0 or CN_ERR with err set. */
int cn_store_open(const cn_store_opts_t *opts, cn_store_t **out, cn_err_t *err);
void cn_store_close(cn_store_t *s);
const char *cn_store_driver(const cn_store_t *s);

/**
 * Prepares (or reuses) sql and binds args to $1..$n. The statement must be finished with
 * cn_stmt_finish() before the next query on this connection that reuses the same SQL.
 * A writing statement outside a transaction holds the process write lock until finished.
 */
int cn_store_query(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n, cn_stmt_t **out,
                   cn_err_t *err);

/** Advances: CN_ROW, CN_DONE, or a negative code (CN_ECONFLICT on a unique violation). */
int cn_stmt_step(cn_stmt_t *st, cn_err_t *err);
int64_t cn_stmt_int(cn_stmt_t *st, int col);
double cn_stmt_real(cn_stmt_t *st, int col);
/** Column text (NULL for SQL NULL); valid until the next step or finish. */
const char *cn_stmt_text(cn_stmt_t *st, int col, size_t *len);
int cn_stmt_is_null(cn_stmt_t *st, int col);
/** Resets the statement for reuse and releases the write lock it may hold. */
void cn_stmt_finish(cn_stmt_t *st);

/** Runs a statement to completion; *changes (may be NULL) gets the affected row count. */
int cn_store_exec(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n, int64_t *changes,
                  cn_err_t *err);

/**
 * Multi-row INSERT text: head ("INSERT INTO t (a, b)") + " VALUES ($1, $2), ($3, $4)..."
 * for 1..CN_ROWS_MAX rows of cols parameters, built on first use and kept (statement
 * text must stay the same for the statement cache), then tail if set. Declare one per
 * statement:  static cn_rows_sql_t insert = {"INSERT INTO t (a, b)", 2};
 */
#define CN_ROWS_MAX 100
typedef struct st_cn_rows_sql_t {
    const char *head;
    int cols;
    const char *tail; /* after the rows ("ON CONFLICT ..."); may be NULL */
    char *_Atomic sql[CN_ROWS_MAX + 1];
} cn_rows_sql_t;
const char *cn_rows_sql(cn_rows_sql_t *r, size_t rows);

/** Runs several ;-separated statements without parameters (migrations). */
int cn_store_exec_script(cn_store_t *s, const char *sql, cn_err_t *err);

/**
 * Explicit unit of work. On a plain connection: a write transaction (takes the process
 * write lock, then the database's). On a batching connection: a savepoint inside the
 * batch. Inside the kernel's unit of a request (below), committing also keeps everything
 * the request wrote before: it is how a handler keeps a write that must stay even when it
 * answers with an error (a failed sign-in counted, a used challenge); a rollback undoes
 * this unit only. Units do not nest.
 */
int cn_store_begin(cn_store_t *s, cn_err_t *err);
int cn_store_commit(cn_store_t *s, cn_err_t *err);
void cn_store_rollback(cn_store_t *s);
/** Ends the open transaction by the outcome of its work: commits it if rc is 0 and returns
 *  the commit's result, else rolls it back and returns rc. */
int cn_store_end(cn_store_t *s, int rc, cn_err_t *err);
int cn_store_in_txn(const cn_store_t *s);

/**
 * The kernel's unit of work around one handler on a batching connection (the HTTP layer
 * opens one per request; apps never call these). Nothing happens until the handler's first
 * write outside an explicit unit, which opens a savepoint; cn_store_unit_end releases it
 * into the batch (keep = 1) or rolls it back (keep = 0, also an explicit unit left open),
 * and the hooks' unit_end lets what the unit staged follow. Returns 0, or the error of a
 * release that failed (the unit was then rolled back). No-ops without batching.
 */
void cn_store_unit_begin(cn_store_t *s);
int cn_store_unit_end(cn_store_t *s, int keep, cn_err_t *err);
/**
 * How many units of work enclose the current statement inside the batch: 0 outside any
 * (or without batching), 1 in the kernel's or an explicit unit, 2 in an explicit unit
 * inside the kernel's. Hooks record it with what they stage (see unit_end).
 */
int cn_store_unit_depth(const cn_store_t *s);

/**
 * Group commit for an event loop's connection. With batching on, the first write of a
 * loop turn opens one transaction that every later write of that turn joins (explicit
 * begin/commit become savepoints), and cn_store_batch_commit() commits it once at the end
 * of the turn. The caller must hold back every answer given while a batch was open until
 * that commit succeeds: this is what makes an acknowledged write durable, and it turns
 * many small commits into one. These batch calls are the kernel's (the HTTP layer, the job
 * runner): a handler's writes are scoped by the unit of work the kernel opens around it.
 */
void cn_store_set_batching(cn_store_t *s, int on);
int cn_store_is_batching(const cn_store_t *s);
int cn_store_batch_open(const cn_store_t *s);
/**
 * Identifies the open batch transaction (0 when none): it changes with every batch and
 * whenever a unit of work inside it is rolled back, so a cache of something read or
 * written inside a batch can tell whether it is still valid.
 */
uint64_t cn_store_batch_id(const cn_store_t *s);

/**
 * Ends the loop turn's shared read transaction (if open and idle), so the next read sees
 * every commit so far: for values that must not be older than something observed now
 * (a cache entry computed after taking its invalidation token).
 */
int cn_store_fresh_read(cn_store_t *s, cn_err_t *err);

/** Dooms the open batch: its commit rolls everything back and reports failure. For the
 *  kernel's own batches (the job runner); a request's failure ends only its unit. */
void cn_store_batch_fail(cn_store_t *s);
/** Opens the batch now (before running a turn's queued writes). */
int cn_store_batch_begin(cn_store_t *s, cn_err_t *err);
/**
 * The same without blocking, for an event loop: CN_EBUSY when another connection holds
 * the process write lock (or has just handed it over to a waiting loop). The loop then
 * keeps its queued writes, goes on serving, and its waker is called from the thread that
 * releases the lock; it should also try again within a millisecond or so. Without a waker
 * this is cn_store_batch_begin.
 */
int cn_store_batch_try_begin(cn_store_t *s, cn_err_t *err);
/** wake(ud) may be called from any thread, at any time after it is set. */
void cn_store_set_waker(cn_store_t *s, void (*wake)(void *), void *ud);
/**
 * Ends the loop turn: commits the open batch (if any; on failure everything in it was
 * rolled back) and ends the turn's read transaction. Reads of a batching connection share
 * one read transaction per turn, so they see committed data at most one turn old.
 */
int cn_store_batch_commit(cn_store_t *s, cn_err_t *err);

/**
 * Transaction hooks, for modules that stage work per transaction (audit entries, events,
 * job wake-ups). They run on the connection's thread for explicit transactions (a batch,
 * or cn_store_begin/commit on a plain connection), never for single auto-commit writes.
 * - precommit: just before COMMIT; write what was staged for this transaction. An error
 *   rolls the transaction back (end then gets committed = 0). Precommits run in the
 *   reverse order of cn_store_add_hook, so a hook may stage work (an event) for a hook
 *   added before it; end and unit_end run in the order added.
 * - end: after COMMIT (committed = 1) or ROLLBACK (0), while the process write lock is
 *   still held, so hooks see transactions in commit order. Must not block or use a store.
 * - unit_end: a unit of work inside a batch was released (1) or rolled back (0); it runs
 *   while cn_store_unit_depth() still counts that unit (d). What was staged at depth >= d
 *   must then move to depth d - 1 or be dropped (it is the tail of what is staged: deeper
 *   units began after everything staged outside them).
 * Each member may be NULL. Added once at start-up, before any transaction runs.
 */
typedef struct st_cn_store_hook_t {
    int (*precommit)(cn_store_t *s, cn_err_t *err);
    void (*end)(cn_store_t *s, int committed);
    void (*unit_end)(cn_store_t *s, int committed);
} cn_store_hook_t;
void cn_store_add_hook(const cn_store_hook_t *hook);
/** Removes every hook (tests). */
void cn_store_clear_hooks(void);

/**
 * Copies committed WAL content into the database file without blocking writers
 * (SQLite's PASSIVE checkpoint). Run from a background thread when the loop connections
 * use manual_checkpoint, so no request ever pays for a checkpoint inside its commit.
 */
int cn_store_checkpoint(cn_store_t *s, cn_err_t *err);

/** Cheap round trip proving the database answers. */
int cn_store_ping(cn_store_t *s, cn_err_t *err);

/**
 * Writes a consistent copy of the database to path, mode 0600, through a temporary file
 * beside it that is synced and then moved into place, so path never holds a partial
 * copy. An existing path is replaced only with overwrite, else CN_ECONFLICT (checked
 * atomically). Returns 0, CN_ECONFLICT or CN_ERR; nothing is left behind on failure.
 */
int cn_store_backup(cn_store_t *s, const char *path, int overwrite, cn_err_t *err);

/* ---- migrations ---- */

/** One schema change. A module's list ends with version 0. Versions start at 1. */
typedef struct st_cn_migration_t {
    int version;
    const char *name;
    const char *sql;
} cn_migration_t;

typedef struct st_cn_migration_set_t {
    const char *module;
    const cn_migration_t *list;
} cn_migration_set_t;

typedef struct st_cn_migrate_status_t {
    int pending; /* known migrations not yet applied */
    int applied;
} cn_migrate_status_t;

/**
 * Compares the database with the known migrations. Returns 0, or CN_ETOONEW when the
 * database holds a migration this binary does not know (it was written by a newer one).
 */
int cn_migrate_status(cn_store_t *s, const cn_migration_set_t *sets, size_t n_sets,
                      cn_migrate_status_t *st, cn_err_t *err);

/**
 * Applies pending migrations in order, each in its own transaction, recording each in
 * schema_migrations. With dry_run, runs them all in one transaction that is rolled back
 * (so the SQL is proven to apply) and changes nothing. report (may be NULL) gets a line
 * per migration. Refuses with CN_ETOONEW like cn_migrate_status.
 */
int cn_migrate(cn_store_t *s, const cn_migration_set_t *sets, size_t n_sets, int dry_run,
               void (*report)(const char *line, void *ud), void *ud, cn_err_t *err);

#endif
