/*
 * PostgreSQL driver for the store interface (store.h), over one libpq connection per store
 * (pg.c). store.c keeps the transaction rules; this file runs statements and transaction
 * control on the connection.
 *
 * - No process write lock: PostgreSQL's row locks serialise writers, across the nodes of
 *   a cluster too. A loop's batch is a plain transaction (READ COMMITTED) that every
 *   write of the turn joins; units of work are savepoints inside it, as on SQLite.
 * - Reads outside a transaction run in autocommit, so they always see every commit.
 * - A statement that fails outside any savepoint leaves the whole transaction unable to
 *   commit (SQLite fails only the statement): the kernel's unit therefore opens its
 *   savepoint before a read inside the batch too (unit_on_read), and such a failure dooms
 *   the batch, whose answers become 503s.
 * - A statement runs when it is bound (one round trip, rows kept until finished); its
 *   error is reported by the first step, where the other driver reports it.
 * - A lost connection fails what was open with CN_EBUSY (503 + Retry-After); the next
 *   statement outside a transaction reconnects, at most once every RECONNECT_NS, so a
 *   dead server costs a loop one connect attempt, not one per request.
 * - Reads that run on a fiber outside any transaction (the loop runs its read requests on
 *   fibers) are sent without waiting, and the fiber suspends; the loop then reads every
 *   result of the turn in the order sent and resumes each fiber (pg_resume_waiting). A
 *   turn's reads thus share their round trips instead of queueing one after another.
 *   Transaction control whose outcome nobody waits for (BEGIN, SAVEPOINT, RELEASE,
 *   ROLLBACK TO) is sent ahead too. Any other statement is sent after what was sent ahead
 *   and reads every result, its own last: one round trip for all of them.
 * - While the loop runs its turn's writes (cn_store_set_writes_ahead), a write of the
 *   kernel's unit whose caller reads no result is sent ahead as well. Its failure, read
 *   later, makes the batch late: what follows fails with CN_EBUSY, the commit rolls back,
 *   and the loop runs the turn's writes again without writes ahead (late_failure).
 * - Inside a transaction only what a caller waits for carries a sync point; what was sent
 *   ahead before it leaves with it, and the server answers all of it at once.
 */
#include "base/fiber.h"
#include "store/driver.h"
#include "store/pg_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECONNECT_NS (250 * 1000000ull)
#define STMTS_MAX 1024
#define SENT_MAX 256 /* statements sent ahead and not read yet, at most */

typedef struct pg_stmt_t {
    cn_stmt_t base;
    char *sql; /* owned copy; the cache key */
    uint64_t hash;
    cn_pg_rows_t rows;
    int64_t changes;
    int rc;               /* of the run, given by the first step */
    int in_use;           /* bound and not finished yet */
    int transient;        /* a second copy for a text in use: not cached, freed when done */
    cn_err_t err;         /* its message when rc < 0 */
    unsigned char *bytes; /* a bytea value of the current row, decoded */
    cn_fiber_t *fiber;    /* suspended until this statement's result is read */
    int control;          /* sent ahead, its result not awaited: transaction control, or */
    int write;            /* a write of a unit (cn_store_set_writes_ahead) */
    struct pg_stmt_t *next_waiting;
} pg_stmt_t;

/* Statements in the order they were sent, each with the fiber waiting for it. */
typedef struct {
    pg_stmt_t *head, *tail;
    size_t n;
} stmt_queue_t;

typedef struct pg_store_t {
    cn_store_t base;
    cn_pg_t *conn;
    pg_stmt_t **cache; /* open addressing, power-of-two capacity */
    size_t cap, count;
    uint64_t next_connect_ns; /* no reconnect attempt before */
    stmt_queue_t sent;        /* their results not read yet */
    stmt_queue_t ready;       /* results read, their fibers not resumed yet */
    pg_stmt_t *free_controls; /* control entries to reuse */
} pg_store_t;

static inline pg_store_t *pgs(cn_store_t *s)
{
    return (pg_store_t *)s;
}

static inline pg_stmt_t *pgst(cn_stmt_t *st)
{
    return (pg_stmt_t *)st;
}

/* ---- which statements only read ---- */

/* 1 when the word w (upper case) occurs in sql as a word, whatever its case. */
static int has_word(const char *sql, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = sql; (p = strcasestr(p, w)) != NULL; p += n) {
        int start = p == sql || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int end = !(isalnum((unsigned char)p[n]) || p[n] == '_');
        if (start && end)
            return 1;
    }
    return 0;
}

/*
 * A statement may run outside the batch only when it cannot write or lock: a SELECT or a
 * WITH query naming none of the words that write, lock or advance a sequence. A word
 * inside a string literal makes a read count as a write, which costs it a transaction,
 * never correctness.
 */
static int is_readonly(const char *sql)
{
    while (*sql == ' ' || *sql == '\n' || *sql == '\t' || *sql == '(')
        sql++;
    if (strncasecmp(sql, "SELECT", 6) != 0 && strncasecmp(sql, "WITH", 4) != 0)
        return 0;
    static const char *const writes[] = {"INSERT", "UPDATE",  "DELETE", "MERGE", "FOR",
                                         "LOCK",   "NEXTVAL", "SETVAL", "COPY"};
    for (size_t i = 0; i < CN_ARRAY_SIZE(writes); i++)
        if (has_word(sql, writes[i]))
            return 0;
    return strcasestr(sql, "pg_advisory") == NULL;
}

/* ---- statements sent ahead ---- */

static void queue_push(stmt_queue_t *q, pg_stmt_t *st)
{
    st->next_waiting = NULL;
    if (q->tail)
        q->tail->next_waiting = st;
    else
        q->head = st;
    q->tail = st;
    q->n++;
}

static pg_stmt_t *queue_pop(stmt_queue_t *q)
{
    pg_stmt_t *st = q->head;
    if (st && (q->head = st->next_waiting) == NULL)
        q->tail = NULL;
    q->n -= st != NULL;
    return st;
}

static void receive_into(pg_store_t *p, pg_stmt_t *st)
{
    st->err.code = 0;
    st->rc = cn_pg_receive(p->conn, &st->rows, &st->changes, &st->err);
}

/* Reads the result of every statement sent ahead, so the connection is free for one that
 * runs now; their fibers resume later, in order (pg_resume_waiting). A control statement's
 * failure needs no report of its own: it leaves the transaction failed, which the next
 * statement and the commit see. A write's failure makes the batch late (see run_now). */
static void collect_sent(pg_store_t *p)
{
    pg_stmt_t *st;
    while ((st = queue_pop(&p->sent)) != NULL) {
        receive_into(p, st);
        if (st->fiber) {
            queue_push(&p->ready, st);
        } else if (st->control) {
            if (st->write && st->rc < 0 && p->base.batch_open)
                p->base.batch_late = p->base.batch_failed = 1;
            cn_pg_rows_clear(&st->rows);
            st->next_waiting = p->free_controls;
            p->free_controls = st;
        } /* else the statement run now, whose caller reads it */
    }
}

/* Sends sql ahead; a text new on the connection is prepared once what was sent before it
 * has been read (preparing takes a round trip of its own). sync: see cn_pg_send; inside
 * the batch only what a caller waits for needs one. */
static int send_ahead(pg_store_t *p, const char *sql, const cn_val_t *args, size_t n, int sync,
                      cn_err_t *err)
{
    if (p->sent.n >= SENT_MAX) /* the server's answers wait in the socket meanwhile */
        collect_sent(p);
    int rc = cn_pg_send(p->conn, sql, args, n, sync, err);
    if (rc == CN_PG_UNPREPARED) {
        collect_sent(p);
        rc = cn_pg_send(p->conn, sql, args, n, sync, err);
    }
    return rc;
}

/* A write sent ahead failed before st: st failed only because the transaction had (or
 * would have, a control statement), and its caller must not take that for its own
 * failure: CN_EBUSY, which the loop answers by running the turn's writes again. */
static void late_failure(pg_store_t *p, pg_stmt_t *st)
{
    if (!p->base.batch_late || st->rc == 0)
        return;
    st->rc = cn_err_set(&st->err, CN_EBUSY, "a write sent ahead in this turn failed");
}

/* Runs st now. What was sent ahead goes in the same round trip: st is sent after it and
 * every result is read, st's last. */
static void run_now(pg_store_t *p, pg_stmt_t *st, const cn_val_t *args, size_t n)
{
    int rc = p->sent.head ? cn_pg_send(p->conn, st->sql, args, n, 1, &st->err) : CN_PG_UNPREPARED;
    if (rc == CN_PG_UNPREPARED) {
        collect_sent(p);
        st->rc = cn_pg_run(p->conn, st->sql, args, n, &st->rows, &st->changes, &st->err);
    } else if (rc != 0) {
        st->rc = rc;
    } else {
        st->fiber = NULL;
        st->control = 0;
        queue_push(&p->sent, st);
        collect_sent(p);
    }
    late_failure(p, st);
}

/* Transaction control whose success the store does not wait for: opening a transaction or
 * a savepoint, releasing one, rolling back to one. It goes with the next statement. */
static int deferrable(const char *sql)
{
    return strcmp(sql, "BEGIN") == 0 || strncmp(sql, "SAVEPOINT ", 10) == 0 ||
           strncmp(sql, "RELEASE ", 8) == 0 || strncmp(sql, "ROLLBACK TO ", 12) == 0;
}

/* Sends sql ahead with nobody waiting for its result: transaction control, or a write
 * (write = 1) whose caller reads neither rows nor changes. */
static int send_unawaited(pg_store_t *p, const char *sql, const cn_val_t *args, size_t n, int write,
                          cn_err_t *err)
{
    int rc = send_ahead(p, sql, args, n, 0, err);
    if (rc != 0)
        return rc;
    pg_stmt_t *st = p->free_controls;
    if (st)
        p->free_controls = st->next_waiting;
    else
        st = cn_calloc(1, sizeof(*st));
    st->control = 1;
    st->write = write;
    st->rows.row = -1;
    queue_push(&p->sent, st);
    return 0;
}

/* A write that may be sent ahead: in the kernel's unit in the batch (with its savepoint,
 * or bare: see CN_UNIT_BARE), its caller waiting for nothing, writes ahead on this turn. */
static int may_write_ahead(const cn_stmt_t *st)
{
    const cn_store_t *s = st->owner;
    return st->ahead && !st->readonly && s->writes_ahead && s->batch_open && !s->batch_failed &&
           (s->unit == CN_UNIT_OPEN || s->unit == CN_UNIT_BARE) && !s->in_txn;
}

/* A read that may be sent ahead: it runs on a fiber, outside any transaction. */
static int may_send_ahead(const cn_stmt_t *st)
{
    const cn_store_t *s = st->owner;
    return st->readonly && s->suspending && !s->batch_open && !s->in_txn &&
           s->unit != CN_UNIT_OPEN && cn_fiber_current() != NULL;
}

/* Sends st, suspends its fiber until pg_resume_waiting has read its result. */
static void send_and_suspend(pg_store_t *p, pg_stmt_t *st, const cn_val_t *args, size_t n)
{
    int rc = send_ahead(p, st->sql, args, n, 1, &st->err);
    if (rc != 0) { /* reported by the first step, as a run's error is */
        st->rc = rc < 0 ? rc : CN_ERR;
        return;
    }
    st->fiber = cn_fiber_current();
    queue_push(&p->sent, st);
    cn_fiber_suspend();
}

static int pg_resume_waiting(cn_store_t *s)
{
    pg_store_t *p = pgs(s);
    int resumed = 0;
    for (;;) {
        pg_stmt_t *st = queue_pop(&p->ready);
        if (st == NULL && p->sent.head != NULL) { /* also control sent ahead: no fiber */
            collect_sent(p);
            continue;
        }
        if (st == NULL)
            return resumed;
        cn_fiber_t *f = st->fiber; /* st may be gone once its fiber has run */
        st->fiber = NULL;
        cn_fiber_resume(f);
        resumed++;
    }
}

/* ---- the connection ---- */

/* Reconnects a lost connection when no transaction depended on it. */
static int connection_ready(cn_store_t *s, cn_err_t *err)
{
    pg_store_t *p = pgs(s);
    if (cn_pg_alive(p->conn))
        return 0;
    collect_sent(p); /* they fail: their connection is gone */
    if (s->batch_open || s->in_txn)
        return cn_err_set(err, CN_EBUSY, "the database connection was lost");
    uint64_t now = cn_now_ns();
    if (now < p->next_connect_ns)
        return cn_err_set(err, CN_EBUSY, "the database is unavailable; retrying shortly");
    p->next_connect_ns = now + RECONNECT_NS;
    return cn_pg_reconnect(p->conn, err);
}

/* Control statements go in the round trip of the next statement; one whose outcome
 * matters now (COMMIT, ROLLBACK) takes what was sent ahead with it. */
static int pg_control(cn_store_t *s, const char *sql, cn_err_t *err)
{
    pg_store_t *p = pgs(s);
    int rc = connection_ready(s, err);
    if (rc != 0)
        return rc;
    if (deferrable(sql))
        return send_unawaited(p, sql, NULL, 0, 0, err);
    if (p->sent.head == NULL)
        return cn_pg_script(p->conn, sql, err);
    pg_stmt_t now = {.sql = (char *)sql, .rows.row = -1};
    run_now(p, &now, NULL, 0);
    cn_pg_rows_clear(&now.rows);
    if (now.rc != 0 && err)
        *err = now.err;
    return now.rc;
}

static int pg_aborted(cn_store_t *s)
{
    collect_sent(pgs(s)); /* the transaction's state after everything sent */
    if (s->batch_late)
        return 1;
    switch (cn_pg_txn_status(pgs(s)->conn)) {
    case PQTRANS_INTRANS: return 0;
    case PQTRANS_INERROR: return !cn__store_in_savepoint(s); /* else the unit rolls back */
    default: return 1; /* no transaction any more, or no connection */
    }
}

static int pg_lock(cn_store_t *s, int wait, cn_err_t *err)
{
    (void)s, (void)wait, (void)err;
    return 0;
}

static void pg_unlock(cn_store_t *s)
{
    (void)s;
}

/* ---- statements ---- */

static void cache_put(pg_store_t *p, pg_stmt_t *st)
{
    if ((p->count + 1) * 2 > p->cap) {
        pg_stmt_t **old = p->cache;
        size_t old_cap = p->cap;
        p->cap *= 2;
        p->cache = cn_calloc(p->cap, sizeof(pg_stmt_t *));
        p->count = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i])
                cache_put(p, old[i]);
        free(old);
    }
    size_t i = st->hash & (p->cap - 1);
    while (p->cache[i])
        i = (i + 1) & (p->cap - 1);
    p->cache[i] = st;
    p->count++;
}

static void stmt_free(pg_stmt_t *st)
{
    cn_pg_rows_clear(&st->rows);
    free(st->bytes);
    free(st->sql);
    free(st);
}

/* Statements are kept by their text, and some text is built per request: past STMTS_MAX,
 * the ones not running now go (pg.c bounds the server's prepared statements likewise). */
static void drop_idle_statements(pg_store_t *p)
{
    pg_stmt_t **old = p->cache;
    size_t old_cap = p->cap;
    p->cache = cn_calloc(p->cap, sizeof(pg_stmt_t *));
    p->count = 0;
    for (size_t i = 0; i < old_cap; i++) {
        pg_stmt_t *st = old[i];
        if (st == NULL)
            continue;
        if (st->in_use) { /* its caller still reads it */
            cache_put(p, st);
            continue;
        }
        stmt_free(st);
    }
    free(old);
}

static int pg_prepare(cn_store_t *s, const char *sql, int write, cn_stmt_t **out, cn_err_t *err)
{
    (void)write; /* one connection does both */
    int rc = connection_ready(s, err);
    if (rc != 0)
        return rc;
    pg_store_t *p = pgs(s);
    uint64_t h = cn_hash_str(sql);
    pg_stmt_t *found = NULL;
    for (size_t i = h & (p->cap - 1); p->cache[i] && !found; i = (i + 1) & (p->cap - 1))
        if (p->cache[i]->hash == h && strcmp(p->cache[i]->sql, sql) == 0)
            found = p->cache[i];
    if (found && !found->in_use) {
        *out = &found->base;
        return 0;
    }
    if (!found && p->count >= STMTS_MAX)
        drop_idle_statements(p);
    pg_stmt_t *st = cn_calloc(1, sizeof(*st));
    st->sql = cn_strdup(sql);
    st->hash = h;
    st->base.readonly = found ? found->base.readonly : is_readonly(sql);
    st->rows.row = -1;
    /* the same text in use (another fiber's, waiting for its result): a copy of its own */
    st->transient = found != NULL;
    if (!found)
        cache_put(p, st);
    *out = &st->base;
    return 0;
}

static int pg_bind(cn_stmt_t *base, const cn_val_t *args, size_t n, cn_err_t *err)
{
    (void)err;
    pg_stmt_t *st = pgst(base);
    pg_store_t *p = pgs(base->owner);
    st->in_use = 1;
    st->err.code = 0;
    st->changes = 0;
    st->rc = 0;
    if (may_send_ahead(base)) {
        send_and_suspend(p, st, args, n);
        return 0;
    }
    if (may_write_ahead(base)) { /* no rows: its first step says done */
        int rc = send_unawaited(p, st->sql, args, n, 1, &st->err);
        if (rc != 0)
            st->rc = rc < 0 ? rc : CN_ERR;
        return 0;
    }
    run_now(p, st, args, n);
    return 0;
}

static int pg_step(cn_stmt_t *base, cn_err_t *err)
{
    pg_stmt_t *st = pgst(base);
    free(st->bytes);
    st->bytes = NULL;
    if (st->rc < 0) {
        int rc = st->rc;
        if (err)
            *err = st->err;
        st->rc = 0; /* reported once */
        return rc;
    }
    return cn_pg_next(&st->rows);
}

static int64_t pg_int(cn_stmt_t *st, int col)
{
    return cn_pg_int(&pgst(st)->rows, col);
}

static double pg_real(cn_stmt_t *st, int col)
{
    return cn_pg_real(&pgst(st)->rows, col);
}

/* Text as the server sent it; a bytea value decoded into bytes the statement keeps until
 * the next step (a blob reads back as what was bound). */
static const char *pg_text(cn_stmt_t *base, int col, size_t *len)
{
    pg_stmt_t *st = pgst(base);
    const char *t = cn_pg_text(&st->rows, col, len);
    if (t == NULL || !cn_pg_is_bytea(&st->rows, col))
        return t;
    free(st->bytes);
    size_t n = 0;
    st->bytes = PQunescapeBytea((const unsigned char *)t, &n);
    if (st->bytes == NULL) /* libpq's only failure is out of memory, fatal as everywhere */
        abort();
    if (len)
        *len = n;
    return (const char *)st->bytes;
}

static int pg_is_null(cn_stmt_t *st, int col)
{
    return cn_pg_is_null(&pgst(st)->rows, col);
}

static void pg_reset(cn_stmt_t *base)
{
    pg_stmt_t *st = pgst(base);
    if (st->transient) {
        stmt_free(st);
        return;
    }
    cn_pg_rows_clear(&st->rows);
    free(st->bytes);
    st->bytes = NULL;
    st->rc = 0;
    st->in_use = 0;
}

static int64_t pg_changes(cn_stmt_t *st)
{
    return pgst(st)->changes;
}

/* ---- the rest ---- */

static int pg_exec_script(cn_store_t *s, const char *sql, cn_err_t *err)
{
    collect_sent(pgs(s));
    int rc = connection_ready(s, err);
    return rc != 0 ? rc : cn_pg_script(pgs(s)->conn, sql, err);
}

static int pg_checkpoint(cn_store_t *s, cn_err_t *err)
{
    (void)s, (void)err; /* the server checkpoints by itself */
    return 0;
}

static int pg_backup(cn_store_t *s, const char *path, int overwrite, cn_err_t *err)
{
    (void)s, (void)path, (void)overwrite;
    return cn_err_set(err, CN_EUNSUPPORTED,
                      "cairn backup copies SQLite databases; back PostgreSQL up with pg_dump "
                      "--format=custom \"$CAIRN_DATABASE_URL\" (a consistent snapshot while "
                      "Cairn serves; docs/operations.md)");
}

static void pg_close(cn_store_t *s)
{
    pg_store_t *p = pgs(s);
    collect_sent(p); /* a loop resumes its fibers before it closes its store: none are left */
    while (p->free_controls) {
        pg_stmt_t *st = p->free_controls;
        p->free_controls = st->next_waiting;
        free(st);
    }
    for (size_t i = 0; i < p->cap; i++)
        if (p->cache[i])
            stmt_free(p->cache[i]);
    free(p->cache);
    cn_pg_close(p->conn);
    free(p);
}

static const cn_store_driver_t postgres_driver = {
    .name = "postgres",
    .begin_sql = "BEGIN",
    .unit_on_read = 1,
    .sends_writes_ahead = 1,
    .prepare = pg_prepare,
    .bind = pg_bind,
    .step = pg_step,
    .col_int = pg_int,
    .col_real = pg_real,
    .col_text = pg_text,
    .col_is_null = pg_is_null,
    .reset = pg_reset,
    .changes = pg_changes,
    .lock = pg_lock,
    .unlock = pg_unlock,
    .control = pg_control,
    .aborted = pg_aborted,
    .exec_script = pg_exec_script,
    .checkpoint = pg_checkpoint,
    .backup = pg_backup,
    .resume_waiting = pg_resume_waiting,
    .close = pg_close,
};

/* Keyset cursors and ORDER BY on text compare bytes on SQLite; the same order here needs
 * the C collation, which only the database's creation can set. */
static int check_collation(cn_pg_t *c, cn_err_t *err)
{
    cn_pg_rows_t rows;
    int rc = cn_pg_run(c, "SELECT datcollate FROM pg_database WHERE datname = current_database()",
                       NULL, 0, &rows, NULL, err);
    if (rc != 0)
        return rc;
    const char *coll = cn_pg_next(&rows) == CN_ROW ? cn_pg_text(&rows, 0, NULL) : NULL;
    int ok = coll && (strcmp(coll, "C") == 0 || strcmp(coll, "POSIX") == 0);
    if (!ok)
        rc = cn_err_set(err, CN_EINVAL,
                        "store.url: the database's collation is %s; Cairn needs C, so that text "
                        "sorts as bytes on every engine: CREATE DATABASE … TEMPLATE template0 "
                        "ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'",
                        coll ? coll : "unknown");
    cn_pg_rows_clear(&rows);
    return rc;
}

/* must_exist: a command that only reads or changes Cairn's data needs a database that
 * holds it (SQLite's "no database at DATA/cairn.db"), not just one that exists. */
static int check_has_schema(cn_pg_t *c, cn_err_t *err)
{
    cn_pg_rows_t rows;
    int rc = cn_pg_run(c,
                       "SELECT 1 FROM pg_tables WHERE schemaname = current_schema()"
                       " AND tablename = 'schema_migrations'",
                       NULL, 0, &rows, NULL, err);
    if (rc != 0)
        return rc;
    if (cn_pg_next(&rows) != CN_ROW)
        rc = cn_err_set(err, CN_ENOTFOUND,
                        "no Cairn database at store.url: it holds no schema_migrations; start "
                        "cairn serve or run cairn migrate on it first");
    cn_pg_rows_clear(&rows);
    return rc;
}

int cn__postgres_open(const cn_store_opts_t *opts, cn_store_t **out, cn_err_t *err)
{
    char setup[256];
    /* lock waits end like SQLite's busy timeout; an idle transaction cannot hold locks
     * forever; times are UTC like the rest of Cairn */
    snprintf(setup, sizeof(setup),
             "SET lock_timeout = %d; SET idle_in_transaction_session_timeout = 60000; "
             "SET TimeZone = 'UTC'",
             opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000);
    cn_pg_t *c;
    int rc = cn_pg_connect_with(opts->url, setup, &c, err);
    if (rc == 0 && ((rc = check_collation(c, err)) != 0 ||
                    (opts->must_exist && (rc = check_has_schema(c, err)) != 0)))
        cn_pg_close(c);
    if (rc != 0)
        return rc;
    pg_store_t *p = cn_calloc(1, sizeof(*p));
    p->base.drv = &postgres_driver;
    p->base.on_query = opts->on_query;
    p->conn = c;
    p->cap = 64;
    p->cache = cn_calloc(p->cap, sizeof(pg_stmt_t *));
    *out = &p->base;
    return 0;
}
