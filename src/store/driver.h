/*
 * What a database driver implements for the store, and the state the driver-neutral part
 * (store.c: units of work, the loop's batch, hooks) keeps in every store and statement.
 * Private to src/store.
 *
 * A driver's store and statement structs begin with cn_store_t and cn_stmt_t, so store.c
 * reads the common fields and calls the driver through s->drv. The driver sees two
 * connections of a store: the one reads run on outside a transaction, and the one every
 * write and every transaction runs on (SQLite: the process's shared write connection;
 * PostgreSQL: the same single connection for both).
 */
#ifndef CAIRN_STORE_DRIVER_H
#define CAIRN_STORE_DRIVER_H

#include "store/store_int.h"

typedef struct st_cn_store_driver_t cn_store_driver_t;

struct st_cn_store_t {
    const cn_store_driver_t *drv;
    int in_txn;        /* an explicit unit of work (cn_store_begin) is open */
    int unit;          /* the kernel's unit of work: CN_UNIT_NONE, _PENDING, _OPEN, _BARE */
    int unit_kept;     /* that unit kept part of its writes (cn_store_commit inside it) */
    int batching;      /* group commit: writes join one transaction per loop turn */
    int batch_open;    /* that transaction is open (and holds the driver's write lock) */
    int batch_failed;  /* something that must commit with the batch could not be written */
    int suspending;    /* reads on a fiber may suspend it (cn_store_set_suspending) */
    int writes_ahead;  /* a unit's writes may be sent without waiting (set per turn) */
    int batch_late;    /* a write sent ahead failed: the open batch is lost */
    int last_late;     /* the last batch ended so (cn_store_batch_late) */
    uint64_t batch_id; /* of the open batch; bumped by each new one */
    void (*on_query)(uint64_t);
    void (*wake)(void *); /* cn_store_batch_try_begin: the write lock was released */
    void *wake_ud;
};

/* The kernel's unit of work (cn_store_unit_begin) opens its savepoint only when the
 * handler first writes outside an explicit unit: handlers that write nothing, or only in
 * units they commit themselves, cost no SQL. A unit whose first statement is a write sent
 * ahead (cn_store_set_writes_ahead) opens none at all (CN_UNIT_BARE): a failure of a write
 * sent ahead loses the turn's batch anyway, and the turn then runs again with savepoints.
 * A bare unit cannot roll back alone, so anything that would (a failed statement, a
 * handler's error) makes the batch late the same way. */
enum { CN_UNIT_NONE = 0, CN_UNIT_PENDING, CN_UNIT_OPEN, CN_UNIT_BARE };

struct st_cn_stmt_t {
    cn_store_t *owner; /* the store running it now */
    int readonly;      /* reads only: may run outside a write transaction */
    int ahead;         /* its caller reads neither rows nor changes: it may be sent ahead */
    int holds_write_lock;
    uint64_t started_ns;
};

struct st_cn_store_driver_t {
    const char *name;
    const char *begin_sql; /* opens a write transaction */
    /* the unit's savepoint opens before a read inside the batch too: a failed statement
     * outside any savepoint dooms the whole transaction (PostgreSQL) */
    int unit_on_read;
    int sends_writes_ahead; /* cn_store_set_writes_ahead means something to it */

    /* Statements. prepare finds or makes sql's statement on the write connection
     * (write = 1) or the read connection (0); bind sets its parameters (a driver may run
     * it there and keep an error for the first step). */
    int (*prepare)(cn_store_t *s, const char *sql, int write, cn_stmt_t **out, cn_err_t *err);
    int (*bind)(cn_stmt_t *st, const cn_val_t *args, size_t n, cn_err_t *err);
    int (*step)(cn_stmt_t *st, cn_err_t *err);
    int64_t (*col_int)(cn_stmt_t *st, int col);
    double (*col_real)(cn_stmt_t *st, int col);
    const char *(*col_text)(cn_stmt_t *st, int col, size_t *len);
    int (*col_is_null)(cn_stmt_t *st, int col);
    void (*reset)(cn_stmt_t *st);
    int64_t (*changes)(cn_stmt_t *st); /* rows the finished run changed */

    /* Write transactions. lock takes the driver's write lock (wait = 0: CN_EBUSY instead
     * of waiting, and s->wake is called when it is released); unlock releases it after
     * the end hooks. control runs a statement without parameters on the write
     * connection (BEGIN, COMMIT, SAVEPOINT …). aborted: the database ended the open
     * transaction by itself (or left it unable to commit) with no savepoint to go back to. */
    int (*lock)(cn_store_t *s, int wait, cn_err_t *err);
    void (*unlock)(cn_store_t *s);
    int (*control)(cn_store_t *s, const char *sql, cn_err_t *err);
    int (*aborted)(cn_store_t *s);

    /* A batching store's reads of one loop turn may share a read transaction (NULL: none). */
    int (*read_begin)(cn_store_t *s, cn_err_t *err);
    int (*read_end)(cn_store_t *s, cn_err_t *err);

    int (*exec_script)(cn_store_t *s, const char *sql, cn_err_t *err);
    int (*checkpoint)(cn_store_t *s, cn_err_t *err);
    int (*backup)(cn_store_t *s, const char *path, int overwrite, cn_err_t *err);
    /* Resumes the fibers suspended on statements sent ahead, in the order sent, until none
     * waits; returns how many it resumed (NULL: the driver never suspends a fiber). */
    int (*resume_waiting)(cn_store_t *s);
    /* NULL: store.c keeps wake and wake_ud itself */
    void (*set_waker)(cn_store_t *s, void (*wake)(void *), void *ud);
    void (*close)(cn_store_t *s); /* after store.c has ended what was open */
};

/** 1 while a savepoint (the kernel's unit or an explicit unit in the batch) is open. */
static inline int cn__store_in_savepoint(const cn_store_t *s)
{
    return s->batching && (s->unit == CN_UNIT_OPEN || s->in_txn);
}

/** The drivers' openers; only cn_store_open (engine.c) calls them. */
CN_MUST_CHECK int cn__sqlite_open(const cn_store_opts_t *opts, cn_store_t **out, cn_err_t *err);
CN_MUST_CHECK int cn__postgres_open(const cn_store_opts_t *opts, cn_store_t **out, cn_err_t *err);

#endif
