/*
 * The driver-neutral half of the store (store.h, store_int.h): the loop's group-commit
 * batch, the kernel's unit of work and explicit units as savepoints inside it, plain
 * transactions, the transaction hooks, and which connection a statement runs on. The
 * drivers (sqlite.c, postgres.c) run statements and transaction control on their
 * connections and keep their own locks (driver.h); every transaction rule lives here once,
 * so both engines follow the same one.
 */
#include "store/driver.h"

#include <stdlib.h>

static const cn_store_hook_t *hooks[8];
static size_t n_hooks;

void cn_store_add_hook(const cn_store_hook_t *hook)
{
    for (size_t i = 0; i < n_hooks; i++)
        if (hooks[i] == hook)
            return;
    if (n_hooks < CN_ARRAY_SIZE(hooks))
        hooks[n_hooks++] = hook;
}

void cn_store_clear_hooks(void)
{
    n_hooks = 0;
}

/* Last added first: the apps start after the services they use, and an app's precommit
 * may still publish events or stage audit entries that those services write in theirs. */
static int run_precommit(cn_store_t *s, cn_err_t *err)
{
    for (size_t i = n_hooks; i-- > 0;) {
        int rc = hooks[i]->precommit ? hooks[i]->precommit(s, err) : 0;
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void run_end(cn_store_t *s, int committed)
{
    for (size_t i = 0; i < n_hooks; i++)
        if (hooks[i]->end)
            hooks[i]->end(s, committed);
}

static void run_unit_end(cn_store_t *s, int committed)
{
    for (size_t i = 0; i < n_hooks; i++)
        if (hooks[i]->unit_end)
            hooks[i]->unit_end(s, committed);
}

const char *cn_store_driver(const cn_store_t *s)
{
    return s->drv->name;
}

/* ---- the loop's batch ---- */

static int read_end(cn_store_t *s, cn_err_t *err)
{
    return s->drv->read_end ? s->drv->read_end(s, err) : 0;
}

int cn_store_fresh_read(cn_store_t *s, cn_err_t *err)
{
    return read_end(s, err);
}

/* Opens the batch transaction; the driver's write lock is already taken (released on
 * failure). */
static int open_batch_locked(cn_store_t *s, cn_err_t *err)
{
    int rc = s->drv->control(s, s->drv->begin_sql, err);
    if (rc != 0) {
        s->drv->unlock(s);
        return rc;
    }
    s->batch_open = 1;
    s->batch_id++;
    s->last_late = 0;
    return 0;
}

/* Opens the loop turn's batch transaction on its first write. */
static int ensure_batch(cn_store_t *s, cn_err_t *err)
{
    if (s->batch_open)
        return 0;
    int rc = s->drv->lock(s, 1, err);
    return rc != 0 ? rc : open_batch_locked(s, err);
}

int cn_store_batch_try_begin(cn_store_t *s, cn_err_t *err)
{
    if (!s->batching || s->batch_open)
        return 0;
    if (s->wake == NULL)
        return ensure_batch(s, err);
    int rc = s->drv->lock(s, 0, err);
    if (rc == CN_EBUSY)
        return CN_STORE_LOCKED;
    return rc != 0 ? rc : open_batch_locked(s, err);
}

uint64_t cn_store_batch_id(const cn_store_t *s)
{
    return s->batch_open ? s->batch_id : 0;
}

void cn_store_batch_fail(cn_store_t *s)
{
    s->batch_failed = s->batch_open;
}

int cn_store_batch_begin(cn_store_t *s, cn_err_t *err)
{
    return s->batching ? ensure_batch(s, err) : 0;
}

void cn_store_set_batching(cn_store_t *s, int on)
{
    s->batching = on;
}

int cn_store_is_batching(const cn_store_t *s)
{
    return s->batching;
}

int cn_store_batch_open(const cn_store_t *s)
{
    return s->batch_open;
}

int cn_store_in_txn(const cn_store_t *s)
{
    return s->in_txn;
}

/* ---- units of work inside the batch ---- */

int cn_store_unit_depth(const cn_store_t *s)
{
    return s->batching ? (s->unit != CN_UNIT_NONE) + s->in_txn : 0;
}

/* Rolls the explicit unit back to its savepoint; the hooks see it at its depth. */
static void rollback_savepoint(cn_store_t *s)
{
    s->drv->control(s, "ROLLBACK TO cn_txn", NULL);
    s->drv->control(s, "RELEASE cn_txn", NULL);
    s->batch_id++; /* what was read inside the batch may have been rolled back with it */
    run_unit_end(s, 0);
    s->in_txn = 0;
}

/* The open batch is lost: what follows fails with CN_EBUSY, the commit rolls back, and
 * the loop runs the turn's writes again without writes ahead (cn_store_batch_late). */
static void lose_batch(cn_store_t *s)
{
    s->batch_late = s->batch_failed = 1;
}

/* Ends the kernel's unit (its savepoint, if a statement opened one): kept or rolled back. */
static int finish_unit(cn_store_t *s, int keep, cn_err_t *err)
{
    int rc = 0;
    if (s->unit == CN_UNIT_BARE && !keep) /* no savepoint to go back to */
        lose_batch(s);
    if (s->unit == CN_UNIT_OPEN && keep && (rc = s->drv->control(s, "RELEASE cn_unit", err)) != 0)
        keep = 0;
    if (s->batch_late) /* the batch rolls back and its writes run again: not this unit's */
        rc = 0;
    if (s->unit == CN_UNIT_OPEN && !keep) {
        s->drv->control(s, "ROLLBACK TO cn_unit", NULL);
        s->drv->control(s, "RELEASE cn_unit", NULL);
        s->batch_id++;
    }
    run_unit_end(s, keep);
    s->unit = CN_UNIT_NONE;
    return rc;
}

/* The first statement of the kernel's unit that needs it opens the unit's savepoint, but
 * a write sent ahead opens a bare unit (see CN_UNIT_BARE). */
static int open_unit(cn_store_t *s, int bare, cn_err_t *err)
{
    int rc = ensure_batch(s, err);
    if (rc == 0 && !bare && (rc = s->drv->control(s, "SAVEPOINT cn_unit", err)) != 0)
        return rc;
    s->unit = bare ? CN_UNIT_BARE : CN_UNIT_OPEN;
    return 0;
}

void cn_store_unit_begin(cn_store_t *s)
{
    if (s->batching && s->unit == CN_UNIT_NONE && !s->in_txn) {
        s->unit = CN_UNIT_PENDING;
        s->unit_kept = 0;
    }
}

void cn_store_unit_save(cn_store_t *s, cn_store_unit_state_t *saved)
{
    *saved = (cn_store_unit_state_t){.unit = s->unit, .kept = s->unit_kept};
    s->unit = CN_UNIT_NONE;
    s->unit_kept = 0;
}

void cn_store_unit_restore(cn_store_t *s, const cn_store_unit_state_t *saved)
{
    s->unit = saved->unit;
    s->unit_kept = saved->kept;
}

int cn_store_unit_kept(const cn_store_t *s)
{
    return s->unit_kept;
}

int cn_store_unit_end(cn_store_t *s, int keep, cn_err_t *err)
{
    if (s->in_txn) /* an explicit unit left open inside it never committed */
        rollback_savepoint(s);
    if (s->unit == CN_UNIT_NONE)
        return 0;
    return finish_unit(s, keep, err);
}

int cn_store_batch_commit(cn_store_t *s, cn_err_t *err)
{
    if (!s->batch_open)
        return read_end(s, err);
    int rc = 0;
    if (s->in_txn) /* a handler left its unit of work open: it never committed */
        rollback_savepoint(s);
    if (s->unit != CN_UNIT_NONE) /* nor did one of the kernel's */
        finish_unit(s, 0, NULL);
    if (!s->batch_failed && (rc = run_precommit(s, err)) != 0)
        s->batch_failed = 1;
    int committed = 0;
    if (s->batch_failed) {
        s->drv->control(s, "ROLLBACK", NULL);
        if (rc == 0)
            rc = cn_err_set(err, CN_ERR, "a write that belongs to the batch failed");
    } else if (s->drv->aborted(s)) {
        /* the database already rolled the whole transaction back (I/O error, disk full,
         * a lost connection), or a write sent ahead failed */
        s->drv->control(s, "ROLLBACK", NULL);
        rc = cn_err_set(err, CN_EBUSY, "the batch transaction was rolled back by the database");
    } else if ((rc = s->drv->control(s, "COMMIT", err)) != 0) {
        s->drv->control(s, "ROLLBACK", NULL);
    } else {
        committed = 1;
    }
    if (s->batch_late) /* whatever else failed, it failed after that write */
        rc = cn_err_set(err, CN_EBUSY,
                        "a write sent ahead in this turn failed: the turn runs again");
    s->last_late = s->batch_late;
    s->batch_late = 0;
    s->batch_open = 0;
    s->batch_failed = 0;
    run_end(s, committed);
    s->drv->unlock(s);
    read_end(s, NULL); /* the turn's later reads see the batch */
    return rc;
}

/* ---- statements ---- */

/* Makes st ready to run a write outside any transaction: without batching it holds the
 * write lock until finished; with batching it joins the batch. Returns the statement to
 * run (prepared on the write connection) in *st. */
static int route_write(cn_store_t *s, const char *sql, cn_stmt_t **st, cn_err_t *err)
{
    int rc = s->batching ? ensure_batch(s, err) : s->drv->lock(s, 1, err);
    if (rc != 0)
        return rc;
    if ((rc = s->drv->prepare(s, sql, 1, st, err)) != 0) {
        if (!s->batching)
            s->drv->unlock(s);
        return rc;
    }
    (*st)->holds_write_lock = !s->batching;
    return 0;
}

/* ahead: the caller reads neither rows nor changes, so a driver may send the statement
 * without waiting for it (writes_ahead) */
static int query(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n, int ahead,
                 cn_stmt_t **out, cn_err_t *err)
{
    uint64_t t0 = s->on_query ? cn_now_ns() : 0;
    int in_write = s->batch_open || s->in_txn;
    cn_stmt_t *st;
    int rc = s->drv->prepare(s, sql, in_write, &st, err);
    if (rc != 0)
        return rc;
    st->holds_write_lock = 0;
    if (s->batching && !st->readonly && s->batch_failed) {
        cn_err_set(err, CN_EBUSY, "this turn's transaction failed; retry");
        return CN_EBUSY; /* spelt out: the analyzer cannot see cn_err_set returns its code */
    }
    if (!in_write && !st->readonly)
        rc = route_write(s, sql, &st, err);
    else if (!in_write && s->batching && s->drv->read_begin)
        rc = s->drv->read_begin(s, err);
    if (rc == 0 && s->unit == CN_UNIT_PENDING && !s->in_txn &&
        (!st->readonly || (s->batch_open && s->drv->unit_on_read)))
        rc = open_unit(s, ahead && !st->readonly && s->writes_ahead && s->drv->sends_writes_ahead,
                       err);
    if (rc != 0) {
        if (st->holds_write_lock) {
            st->holds_write_lock = 0;
            s->drv->unlock(s);
        }
        return rc;
    }
    st->owner = s;
    st->started_ns = t0;
    st->ahead = ahead;
    if ((rc = s->drv->bind(st, args, n, err)) != 0) {
        cn_stmt_finish(st);
        return rc;
    }
    *out = st;
    return 0;
}

int cn_store_query(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n, cn_stmt_t **out,
                   cn_err_t *err)
{
    return query(s, sql, args, n, 0, out, err);
}

int cn_stmt_step(cn_stmt_t *st, cn_err_t *err)
{
    int rc = st->owner->drv->step(st, err);
    cn_store_t *s = st->owner;
    if (rc < 0 && s->batch_open && s->unit == CN_UNIT_BARE && !s->in_txn && !s->batch_late) {
        lose_batch(s); /* no savepoint holds it: the turn runs again, carefully */
        return cn_err_set(err, CN_EBUSY, "a statement of a unit without a savepoint failed");
    }
    /* the database rolled the whole batch back by itself (disk full, I/O error, a lost
     * connection): later writes of this turn must not commit one by one as if in it */
    if (rc < 0 && s->batch_open && s->drv->aborted(s))
        s->batch_failed = 1;
    return rc;
}

int64_t cn_stmt_int(cn_stmt_t *st, int col)
{
    return st->owner->drv->col_int(st, col);
}

double cn_stmt_real(cn_stmt_t *st, int col)
{
    return st->owner->drv->col_real(st, col);
}

const char *cn_stmt_text(cn_stmt_t *st, int col, size_t *len)
{
    return st->owner->drv->col_text(st, col, len);
}

int cn_stmt_is_null(cn_stmt_t *st, int col)
{
    return st->owner->drv->col_is_null(st, col);
}

void cn_stmt_finish(cn_stmt_t *st)
{
    cn_store_t *s = st->owner;
    int held = st->holds_write_lock;
    uint64_t started_ns = st->started_ns;
    st->holds_write_lock = 0;
    s->drv->reset(st); /* may free st: a driver's copy made for one run */
    if (held)
        s->drv->unlock(s);
    if (s->on_query)
        s->on_query(cn_now_ns() - started_ns);
}

int cn_store_exec(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n, int64_t *changes,
                  cn_err_t *err)
{
    cn_stmt_t *st;
    int rc = query(s, sql, args, n, changes == NULL, &st, err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW)
        ;
    if (changes)
        *changes = s->drv->changes(st);
    cn_stmt_finish(st);
    return rc == CN_DONE ? 0 : rc;
}

int cn_store_exec_script(cn_store_t *s, const char *sql, cn_err_t *err)
{
    return s->drv->exec_script(s, sql, err);
}

/* ---- explicit units and plain transactions ---- */

int cn_store_begin(cn_store_t *s, cn_err_t *err)
{
    if (s->in_txn)
        return cn_err_set(err, CN_ERR, "transaction already open");
    if (s->batching) { /* a unit of work inside the batch: a savepoint */
        int rc = ensure_batch(s, err);
        if (rc == 0 && (rc = s->drv->control(s, "SAVEPOINT cn_txn", err)) != 0)
            return rc;
        s->in_txn = rc == 0;
        return rc;
    }
    int rc = s->drv->lock(s, 1, err);
    if (rc == 0 && (rc = s->drv->control(s, s->drv->begin_sql, err)) != 0)
        s->drv->unlock(s);
    s->in_txn = rc == 0;
    return rc;
}

/* Commits a plain transaction: precommit hooks, COMMIT, end hooks, the lock released. */
static int commit_plain(cn_store_t *s, cn_err_t *err)
{
    int rc = run_precommit(s, err);
    if (rc == 0 && s->drv->aborted(s))
        rc = cn_err_set(err, CN_ERR, "the transaction failed and was rolled back");
    if (rc == 0)
        rc = s->drv->control(s, "COMMIT", err);
    if (rc != 0) {
        cn_store_rollback(s);
        return rc;
    }
    s->in_txn = 0;
    run_end(s, 1);
    s->drv->unlock(s);
    return 0;
}

int cn_store_commit(cn_store_t *s, cn_err_t *err)
{
    if (!s->batching)
        return commit_plain(s, err);
    /* durable when the batch commits */
    int rc = s->drv->control(s, "RELEASE cn_txn", err);
    if (rc != 0) {
        cn_store_rollback(s);
        return rc;
    }
    run_unit_end(s, 1);
    s->in_txn = 0;
    /* committing is the handler's decision to keep what it wrote, even if it then answers
     * with an error (a failed sign-in counted): the kernel's unit keeps everything so far
     * and starts again */
    if (s->unit == CN_UNIT_NONE)
        return 0;
    rc = finish_unit(s, 1, err);
    s->unit = CN_UNIT_PENDING;
    s->unit_kept = 1;
    return rc;
}

void cn_store_rollback(cn_store_t *s)
{
    if (!s->in_txn)
        return;
    if (s->batching) {
        rollback_savepoint(s);
        return;
    }
    s->drv->control(s, "ROLLBACK", NULL);
    s->in_txn = 0;
    run_end(s, 0);
    s->drv->unlock(s);
}

/* ---- the rest of the kernel's calls ---- */

int cn_store_checkpoint(cn_store_t *s, cn_err_t *err)
{
    return s->drv->checkpoint(s, err);
}

int cn_store_backup(cn_store_t *s, const char *path, int overwrite, cn_err_t *err)
{
    return s->drv->backup(s, path, overwrite, err);
}

int cn_store_ping(cn_store_t *s, cn_err_t *err)
{
    cn_stmt_t *st;
    int rc = cn_store_query(s, "SELECT 1", NULL, 0, &st, err);
    if (rc != 0)
        return rc;
    rc = cn_stmt_step(st, err);
    cn_stmt_finish(st);
    return rc < 0 ? rc : CN_OK;
}

void cn_store_set_writes_ahead(cn_store_t *s, int on)
{
    s->writes_ahead = on;
}

int cn_store_batch_late(const cn_store_t *s)
{
    return s->last_late;
}

void cn_store_set_suspending(cn_store_t *s, int on)
{
    s->suspending = on && s->drv->resume_waiting != NULL;
}

int cn_store_suspends(const cn_store_t *s)
{
    return s->suspending;
}

int cn_store_resume_waiting(cn_store_t *s)
{
    return s->drv->resume_waiting ? s->drv->resume_waiting(s) : 0;
}

void cn_store_set_waker(cn_store_t *s, void (*wake)(void *), void *ud)
{
    if (s->drv->set_waker)
        s->drv->set_waker(s, wake, ud);
    else {
        s->wake = wake;
        s->wake_ud = ud;
    }
}

void cn_store_close(cn_store_t *s)
{
    if (s == NULL)
        return;
    if (s->in_txn)
        cn_store_rollback(s);
    /* the owner commits its batch before closing when it needs to know (see store_int.h) */
    cn_ignore(cn_store_batch_commit(s, NULL));
    s->drv->close(s);
}
