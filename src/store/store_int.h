/*
 * The store as the kernel drives it (store.h is what modules see; this header is the
 * kernel's only: core/, main.c, the store itself and tests). Opening and closing
 * connections, the loop's group-commit batch, the unit of work the HTTP layer opens around
 * every handler, the waker of a loop waiting for the write lock, checkpoints, backups and
 * migrations. An app or the auth module that needs one of these is asking the kernel to do
 * something for it: add a kernel call instead of including this header.
 */
#ifndef CAIRN_STORE_STORE_INT_H
#define CAIRN_STORE_STORE_INT_H

#include "store/store.h"

typedef struct st_cn_store_opts_t {
    /* store.url: which engine (cn_store_engine); NULL, "" or "sqlite:" is SQLite */
    const char *url;
    const char *data_dir;      /* SQLite: the database lives in data_dir/cairn.db */
    int synchronous_full;      /* 0: durable against process crashes; 1: also power loss */
    int busy_timeout_ms;       /* waiting for another process's lock */
    int must_exist;            /* fail instead of creating a new, empty database */
    int manual_checkpoint;     /* do not checkpoint inside commits: cn_store_checkpoint() does */
    int64_t cache_bytes;       /* page cache of this connection; 0: SQLite's default (2 MB) */
    int64_t write_cache_bytes; /* of the shared write connection (its first opener's); 0:
                                  cache_bytes */
    void (*on_query)(uint64_t dur_ns); /* latency hook (metrics); may be NULL */
} cn_store_opts_t;

/** The database engines a store.url can name (engine.c). */
typedef enum {
    CN_ENGINE_UNKNOWN = -1,
    CN_ENGINE_SQLITE = 0, /* NULL, "" or "sqlite:": SQLite in data_dir (the default) */
    CN_ENGINE_POSTGRES,   /* postgres://... or postgresql://... */
} cn_store_engine_t;

/** The engine url names, by its scheme alone (cn_store_url_check checks the rest). */
cn_store_engine_t cn_store_engine(const char *url);

/**
 * Checks the shape of a store.url: empty or "sqlite:" (no other sqlite: form: the file is
 * always data_dir/cairn.db), or a PostgreSQL URL that libpq parses and that names a server
 * by host or by socket directory (?host=/dir). Connects to nothing. Returns 0, or CN_EINVAL
 * with a message naming store.url that shows the URL only with its password redacted.
 */
CN_MUST_CHECK int cn_store_url_check(const char *url, cn_err_t *err);

/**
 * 0 when this build has a driver for the engine url names; else CN_EUNSUPPORTED with a
 * message naming store.url (PostgreSQL, for now), or CN_EINVAL for a URL that names none.
 * cn_store_open asks it first; a command that creates something before it opens the
 * store (the data directory's lock) asks it before that.
 */
CN_MUST_CHECK int cn_store_driver_check(const char *url, cn_err_t *err);

/**
 * Opens (creating if needed) the database of opts->url with its driver. Returns 0, CN_ERR
 * with err set, or cn_store_driver_check's refusal (before anything is created).
 */
CN_MUST_CHECK int cn_store_open(const cn_store_opts_t *opts, cn_store_t **out, cn_err_t *err);
/** Closes s (NULL is a no-op): an open explicit unit is rolled back, an open batch
 *  committed (its errors are not reported: commit it first to know). */
void cn_store_close(cn_store_t *s);
/** The driver's name ("sqlite"). */
const char *cn_store_driver(const cn_store_t *s);

/** Runs several ;-separated statements without parameters (migrations). */
CN_MUST_CHECK int cn_store_exec_script(cn_store_t *s, const char *sql, cn_err_t *err);

/** 1 while an explicit unit or the batch is open on s. */
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
CN_MUST_CHECK int cn_store_unit_end(cn_store_t *s, int keep, cn_err_t *err);
/** 1 when the open kernel unit already kept part of its writes (an explicit unit the
 *  handler committed): rolling the unit back does not undo everything it did. */
int cn_store_unit_kept(const cn_store_t *s);

/**
 * Writes sent ahead (PostgreSQL; SQLite runs every statement at once). While on, a write
 * of the kernel's unit in the batch whose caller reads neither rows nor changes
 * (cn_store_exec with changes NULL) is sent without waiting, and the handler goes on: the
 * turn's writes then share round trips. Such a write's failure shows later, and it dooms
 * the batch: every statement of the batch after it fails with CN_EBUSY, the commit rolls
 * back, and cn_store_batch_late then says so until the next batch, so the loop runs the
 * turn's writes again with this off, each handler seeing its own statements' outcomes. The
 * loop sets it per turn; off by default.
 */
void cn_store_set_writes_ahead(cn_store_t *s, int on);
int cn_store_batch_late(const cn_store_t *s);

/**
 * Reads running on a fiber (base/fiber.h) outside any transaction may suspend it: the
 * driver sends them ahead and reads their results later, so that the reads of many
 * requests share round trips (PostgreSQL). Only a loop's own store may do this, and only
 * after cn_store_set_suspending (a store that threads share, or one a loop uses under a
 * lock, must never leave a fiber waiting for it); cn_store_suspends says whether s does;
 * cn_store_resume_waiting reads every result sent ahead and resumes each fiber waiting for
 * one, in the order sent, until none waits (the fibers may send more meanwhile); it
 * returns how many it resumed. The loop calls it before it runs the turn's writes, so no
 * fiber ever waits while the batch is open.
 */
void cn_store_set_suspending(cn_store_t *s, int on);
int cn_store_suspends(const cn_store_t *s);
int cn_store_resume_waiting(cn_store_t *s);

/** The kernel's unit of the fiber that suspends, put aside (and s left without one) until
 *  cn_store_unit_restore gives it back when the fiber resumes. */
typedef struct st_cn_store_unit_state_t {
    int unit, kept;
} cn_store_unit_state_t;
void cn_store_unit_save(cn_store_t *s, cn_store_unit_state_t *saved);
void cn_store_unit_restore(cn_store_t *s, const cn_store_unit_state_t *saved);

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

/** Dooms the open batch: its commit rolls everything back and reports failure. For the
 *  kernel's own batches (the job runner); a request's failure ends only its unit. */
void cn_store_batch_fail(cn_store_t *s);
/** Opens the batch now (before running a turn's queued writes). */
CN_MUST_CHECK int cn_store_batch_begin(cn_store_t *s, cn_err_t *err);
/**
 * The same without blocking, for an event loop: CN_STORE_LOCKED when another connection
 * holds the process write lock (or has just handed it over to a waiting loop). The loop
 * then keeps its queued writes, goes on serving, and its waker is called from the thread
 * that releases the lock; it should also try again within a millisecond or so. Any other
 * failure (the database itself is busy or unreachable) is its negative code: waiting for a
 * lock will not cure it. Without a waker this is cn_store_batch_begin.
 */
#define CN_STORE_LOCKED 1
CN_MUST_CHECK int cn_store_batch_try_begin(cn_store_t *s, cn_err_t *err);
/** wake(ud) may be called from any thread, at any time after it is set. */
void cn_store_set_waker(cn_store_t *s, void (*wake)(void *), void *ud);
/**
 * Ends the loop turn: commits the open batch (if any; on failure everything in it was
 * rolled back) and ends the turn's read transaction. Reads of a batching connection share
 * one read transaction per turn, so they see committed data at most one turn old.
 */
CN_MUST_CHECK int cn_store_batch_commit(cn_store_t *s, cn_err_t *err);

/** Removes every transaction hook (tests). */
void cn_store_clear_hooks(void);

/**
 * Copies committed WAL content into the database file without blocking writers
 * (SQLite's PASSIVE checkpoint). Run from a background thread when the loop connections
 * use manual_checkpoint, so no request ever pays for a checkpoint inside its commit.
 */
CN_MUST_CHECK int cn_store_checkpoint(cn_store_t *s, cn_err_t *err);

/** Cheap round trip proving the database answers. */
CN_MUST_CHECK int cn_store_ping(cn_store_t *s, cn_err_t *err);

/**
 * Writes a consistent copy of the database to path, mode 0600, through a temporary file
 * beside it that is synced and then moved into place, so path never holds a partial
 * copy. An existing path is replaced only with overwrite, else CN_ECONFLICT (checked
 * atomically). Returns 0, CN_ECONFLICT or CN_ERR; nothing is left behind on failure.
 */
CN_MUST_CHECK int cn_store_backup(cn_store_t *s, const char *path, int overwrite, cn_err_t *err);

/* ---- migrations (cn_migration_t, a module's list, is in store.h) ---- */

/** A module's migrations, as the kernel collects them in apply order. */
typedef struct st_cn_migration_set_t {
    const char *module;
    const cn_migration_t *list;
} cn_migration_set_t;

/** The DDL of schema_migrations, valid on both engines (run before anything else). */
extern const char cn_migrations_table_sql[];

typedef struct st_cn_migrate_status_t {
    int pending; /* known migrations not yet applied */
    int applied;
} cn_migrate_status_t;

/**
 * Compares the database with the known migrations. Returns 0, or CN_ETOONEW when the
 * database holds a migration this binary does not know (it was written by a newer one).
 */
CN_MUST_CHECK int cn_migrate_status(cn_store_t *s, const cn_migration_set_t *sets, size_t n_sets,
                                    cn_migrate_status_t *st, cn_err_t *err);

/**
 * Applies pending migrations in order, each in its own transaction, recording each in
 * schema_migrations. With dry_run, runs them all in one transaction that is rolled back
 * (so the SQL is proven to apply) and changes nothing. report (may be NULL) gets a line
 * per migration. Refuses with CN_ETOONEW like cn_migrate_status.
 */
CN_MUST_CHECK int cn_migrate(cn_store_t *s, const cn_migration_set_t *sets, size_t n_sets,
                             int dry_run, void (*report)(const char *line, void *ud), void *ud,
                             cn_err_t *err);

#endif
