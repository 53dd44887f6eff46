/*
 * The store as a module sees it: one small SQL interface over a driver (SQLite now,
 * PostgreSQL later). A cn_store_t is a handle used by one thread at a time (each event loop
 * owns one): it reads on its own connection and writes on the process's shared write
 * connection. SQL is written in the dialect SQLite and PostgreSQL share: $1..$n parameters,
 * RETURNING, ON CONFLICT. Statements are prepared once per connection and cached.
 *
 * This is everything an app or the auth module may call: queries, single-row reads, explicit
 * units of work, the transaction hooks and what a cache needs. Opening and closing stores,
 * the loop's batch, the kernel's unit of work per request, wakers, checkpoints, backups and
 * migrations belong to the kernel and live in store/store_int.h, which modules never
 * include. This layer includes nothing above base/.
 */
#ifndef CAIRN_STORE_STORE_H
#define CAIRN_STORE_STORE_H

#include "base/common.h"

typedef struct st_cn_store_t cn_store_t;
typedef struct st_cn_stmt_t cn_stmt_t;

typedef enum { CN_V_NULL = 0, CN_V_INT, CN_V_REAL, CN_V_TEXT, CN_V_BLOB } cn_vtype_t;

/** A bound parameter. Text is borrowed: it must outlive the statement's use. A blob is
 *  bytes of any value (a BLOB column; BYTEA on PostgreSQL), read back with cn_stmt_text. */
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
#define CN_VBLOB(x, n) ((cn_val_t){.type = CN_V_BLOB, .s = (x), .len = (n)})

/**
 * Prepares (or reuses) sql and binds args to $1..$n. The statement must be finished with
 * cn_stmt_finish() before the next query on this connection that reuses the same SQL.
 * A writing statement outside a transaction holds the process write lock until finished.
 */
CN_MUST_CHECK int cn_store_query(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n,
                                 cn_stmt_t **out, cn_err_t *err);

/** Advances: CN_ROW, CN_DONE, or a negative code (CN_ECONFLICT on a unique violation). */
CN_MUST_CHECK int cn_stmt_step(cn_stmt_t *st, cn_err_t *err);
/** Column values of the current row (0 / 0.0 for SQL NULL). */
int64_t cn_stmt_int(cn_stmt_t *st, int col);
double cn_stmt_real(cn_stmt_t *st, int col);
/** Column text (NULL for SQL NULL); valid until the next step or finish. */
const char *cn_stmt_text(cn_stmt_t *st, int col, size_t *len);
/** 1 when the column of the current row is SQL NULL. */
int cn_stmt_is_null(cn_stmt_t *st, int col);
/** Resets the statement for reuse and releases the write lock it may hold. */
void cn_stmt_finish(cn_stmt_t *st);

/** Runs a statement to completion; *changes (may be NULL) gets the affected row count.
 *  With changes NULL, a write of a request's unit on PostgreSQL may be sent without waiting
 *  (docs/architecture.md, "writes are sent ahead too"): 0 then means sent, and a failure
 *  makes the kernel run the handler again, waiting for each statement. */
CN_MUST_CHECK int cn_store_exec(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n,
                                int64_t *changes, cn_err_t *err);

/**
 * Single-row reads: run sql with args (bound as cn_store_query binds them), read column 0
 * of the first row and finish the statement, in one call. Each returns 0 when a row came,
 * CN_ENOTFOUND when none did (err untouched: the caller says what is missing), or the
 * query's negative code with err set.
 * - cn_store_one_int: *out gets the value (0 for SQL NULL).
 * - cn_store_one_text: copies the text, NUL-terminated, into buf of cap bytes ("" for SQL
 *   NULL); a value that does not fit is CN_ERR (never a silently shortened id).
 * - cn_store_exists: whether the query yields a row at all (its columns are not read).
 */
CN_MUST_CHECK int cn_store_one_int(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n,
                                   int64_t *out, cn_err_t *err);
CN_MUST_CHECK int cn_store_one_text(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n,
                                    char *buf, size_t cap, cn_err_t *err);
CN_MUST_CHECK int cn_store_exists(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n,
                                  cn_err_t *err);

/**
 * A statement whose text differs between the engines (full-text search, row locking,
 * sequences): both spellings side by side, so a reviewer sees them together. A NULL
 * spelling means the engine has nothing to run (the caller skips it).
 *   static const cn_sql_pair_t claim = {.sqlite = "...", .postgres = "... FOR UPDATE SKIP LOCKED"};
 *   const char *sql = cn_store_sql(s, &claim);
 */
typedef struct st_cn_sql_pair_t {
    const char *sqlite;
    const char *postgres;
} cn_sql_pair_t;
const char *cn_store_sql(const cn_store_t *s, const cn_sql_pair_t *q);
/** 1 when s runs on PostgreSQL (for the rare decision that is not a statement's text). */
int cn_store_is_postgres(const cn_store_t *s);

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

/**
 * Explicit unit of work. On a plain connection: a write transaction (takes the process
 * write lock, then the database's). On a batching connection: a savepoint inside the
 * batch. Inside the kernel's unit of a request, committing also keeps everything the
 * request wrote before: it is how a handler keeps a write that must stay even when it
 * answers with an error (a failed sign-in counted, a used challenge); a rollback undoes
 * this unit only. Units do not nest.
 */
CN_MUST_CHECK int cn_store_begin(cn_store_t *s, cn_err_t *err);
CN_MUST_CHECK int cn_store_commit(cn_store_t *s, cn_err_t *err);
void cn_store_rollback(cn_store_t *s);
/** Ends the open transaction by the outcome of its work: commits it if rc is 0 and returns
 *  the commit's result, else rolls it back and returns rc. */
CN_MUST_CHECK int cn_store_end(cn_store_t *s, int rc, cn_err_t *err);

/**
 * How many units of work enclose the current statement inside the batch: 0 outside any
 * (or without batching), 1 in the kernel's or an explicit unit, 2 in an explicit unit
 * inside the kernel's. Hooks record it with what they stage (see unit_end).
 */
int cn_store_unit_depth(const cn_store_t *s);

/**
 * Transaction hooks, for modules that stage work per transaction (audit entries, events,
 * job wake-ups). They run on the connection's thread for explicit transactions (a batch,
 * or cn_store_begin/commit on a plain connection), never for single auto-commit writes.
 * - precommit: just before COMMIT; write what was staged for this transaction. An error
 *   rolls the transaction back (end then gets committed = 0). Precommits run in the
 *   reverse order of cn_store_add_hook, so a hook may stage work (an event) for a hook
 *   added before it; end and unit_end run in the order added.
 * - end: after COMMIT (committed = 1) or ROLLBACK (0). On SQLite the process write lock
 *   is still held, so hooks see transactions in commit order; on PostgreSQL several
 *   connections commit at once and ends may come in any order (events put theirs back in
 *   seq order, events_order.c). Must not block or use a store.
 * - unit_end: a unit of work inside a batch was released (1) or rolled back (0); it runs
 *   while cn_store_unit_depth() still counts that unit (d). What was staged at depth >= d
 *   must then move to depth d - 1 or be dropped (it is the tail of what is staged: deeper
 *   units began after everything staged outside them).
 * Each member may be NULL. Added once at start-up (a module's start), before any
 * transaction runs.
 */
typedef struct st_cn_store_hook_t {
    int (*precommit)(cn_store_t *s, cn_err_t *err);
    void (*end)(cn_store_t *s, int committed);
    void (*unit_end)(cn_store_t *s, int committed);
} cn_store_hook_t;
void cn_store_add_hook(const cn_store_hook_t *hook);

/* ---- what a cache of values read or written in a batch needs (see docs/architecture.md) */

/** 1 while the loop's write batch is open: a value read now may still roll back. */
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
CN_MUST_CHECK int cn_store_fresh_read(cn_store_t *s, cn_err_t *err);

/* ---- migrations ---- */

/**
 * One schema change. A module's list ends with version 0. Versions start at 1.
 *
 * A migration has two texts, one per engine. sql is what SQLite runs. pg is what
 * PostgreSQL runs instead: NULL when sql is written in the vocabulary both engines accept
 * (BIGINT, DOUBLE PRECISION, TEXT; docs/architecture.md) and runs on both; "" when
 * PostgreSQL has nothing to do for this version. Since no PostgreSQL database predates
 * the PostgreSQL driver, a module's first migration's pg text may create the module's
 * latest schema at once and its later versions be "": every version is still recorded in
 * schema_migrations, so both engines list the same rows. A new migration is written once,
 * in the common vocabulary, with pg NULL.
 */
typedef struct st_cn_migration_t {
    int version;
    const char *name;
    const char *sql;
    const char *pg;
} cn_migration_t;

/** The text PostgreSQL runs for m: pg when set, else the common sql. */
const char *cn_migration_pg(const cn_migration_t *m);

#endif
