/*
 * The store's PostgreSQL driver (src/store/postgres.c) through the store interface, against
 * a real PostgreSQL 15 (ctest's pg fixture): the loop's batch is one transaction, units
 * are savepoints in it, a failed statement dooms only what it must, reads outside the
 * batch see every commit, blobs and booleans read back as on SQLite, a lost connection
 * is CN_EBUSY and the store reconnects, migrations run once under a lock, a database
 * without the C collation is refused, and reads on fibers are sent ahead and resumed in
 * order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/fiber.h"
#include "pg_db.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pg_db_t db;
static cn_store_t *s;
static int precommits, ends_committed, ends_rolled_back;

static int count_precommit(cn_store_t *st, cn_err_t *err)
{
    (void)st, (void)err;
    precommits++;
    return 0;
}

static void count_end(cn_store_t *st, int committed)
{
    (void)st;
    if (committed)
        ends_committed++;
    else
        ends_rolled_back++;
}

static const cn_store_hook_t hook = {count_precommit, count_end, NULL};

static const cn_migration_t migrations[] = {
    {1, "create_rows", "CREATE TABLE rows (name TEXT PRIMARY KEY, n BIGINT CHECK (n >= 0))", NULL},
    {2, "create_blobs", "CREATE TABLE blobs (id BIGINT PRIMARY KEY, data BLOB)",
     "CREATE TABLE blobs (id BIGINT PRIMARY KEY, data BYTEA)"},
    {3, "sqlite_only", "CREATE INDEX only_on_sqlite ON rows (n)", ""},
    {0},
};
static const cn_migration_set_t sets[] = {{"test", migrations}};

static cn_store_t *open_store(const char *url)
{
    cn_store_opts_t opts = {.url = url, .data_dir = "/nonexistent", .busy_timeout_ms = 2000};
    cn_err_t err = {0};
    cn_store_t *st = NULL;
    pg_must(cn_store_open(&opts, &st, &err), &err, "open");
    return st;
}

static int setup(void **state)
{
    (void)state;
    pg_db_create(&db, "cairn_test_pg_store", "LC_COLLATE 'C' LC_CTYPE 'C'");
    s = open_store(db.url);
    cn_err_t err = {0};
    pg_must(cn_migrate(s, sets, 1, 0, NULL, NULL, &err), &err, "migrate");
    cn_store_add_hook(&hook);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cn_store_close(s);
    cn_store_clear_hooks();
    pg_db_drop(&db);
    return 0;
}

static int64_t count(cn_store_t *st, const char *where)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM rows WHERE %s", where);
    int64_t n = -1;
    cn_err_t err = {0};
    pg_must(cn_store_one_int(st, sql, NULL, 0, &n, &err), &err, sql);
    return n;
}

static int insert(cn_store_t *st, const char *name, int64_t n, cn_err_t *err)
{
    cn_val_t a[] = {CN_VTEXT(name), CN_VINT(n)};
    return cn_store_exec(st, "INSERT INTO rows (name, n) VALUES ($1, $2)", a, 2, NULL, err);
}

static void test_driver_and_migrations(void **state)
{
    (void)state;
    cn_err_t err = {0};
    assert_string_equal(cn_store_driver(s), "postgres");
    assert_true(cn_store_is_postgres(s));
    /* every version recorded, the "" one included; running again applies nothing */
    assert_int_equal(count(s, "TRUE"), 0);
    int64_t applied = 0;
    pg_must(cn_store_one_int(s, "SELECT COUNT(*) FROM schema_migrations", NULL, 0, &applied, &err),
            &err, "count");
    assert_int_equal(applied, 3);
    cn_migrate_status_t st;
    pg_must(cn_migrate_status(s, sets, 1, &st, &err), &err, "status");
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.applied, 3);
    assert_int_equal(cn_store_exists(s,
                                     "SELECT 1 FROM pg_indexes WHERE indexname = 'only_on_sqlite'",
                                     NULL, 0, &err),
                     CN_ENOTFOUND);
}

/* One transaction per turn: a unit that fails rolls back alone, its neighbours commit,
 * and another connection sees nothing before the commit. */
static void test_batch_units_and_neighbours(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_store_t *other = open_store(db.url);
    cn_store_set_batching(s, 1);
    precommits = ends_committed = ends_rolled_back = 0;

    cn_store_unit_begin(s);
    pg_must(insert(s, "kept-1", 1, &err), &err, "kept-1");
    pg_must(cn_store_unit_end(s, 1, &err), &err, "unit 1");

    cn_store_unit_begin(s);
    pg_must(insert(s, "failed-2", 2, &err), &err, "failed-2");
    /* the second write fails (CHECK): the handler answers with an error */
    assert_int_equal(insert(s, "failed-2b", -1, &err), CN_EVALIDATION);
    pg_must(cn_store_unit_end(s, 0, &err), &err, "unit 2");

    cn_store_unit_begin(s);
    assert_int_equal(insert(s, "kept-1", 3, &err), CN_ECONFLICT); /* unique */
    pg_must(cn_store_unit_end(s, 0, &err), &err, "unit 3");

    cn_store_unit_begin(s);
    pg_must(insert(s, "kept-4", 4, &err), &err, "kept-4");
    pg_must(cn_store_unit_end(s, 1, &err), &err, "unit 4");

    assert_true(cn_store_batch_open(s));
    assert_int_equal(count(other, "name LIKE 'kept-%'"), 0); /* not committed yet */
    pg_must(cn_store_batch_commit(s, &err), &err, "commit");
    assert_int_equal(precommits, 1);
    assert_int_equal(ends_committed, 1);
    assert_int_equal(count(other, "name LIKE 'kept-%'"), 2);
    assert_int_equal(count(other, "name LIKE 'failed-%'"), 0);
    cn_store_set_batching(s, 0);
    cn_store_close(other);
}

/* A read that fails inside the batch (a bad cast) stays inside its unit's savepoint: the
 * batch still commits the other units. A failure outside any unit dooms the batch. */
static void test_failed_read_in_batch(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_store_set_batching(s, 1);
    cn_store_unit_begin(s);
    pg_must(insert(s, "read-1", 1, &err), &err, "read-1");
    pg_must(cn_store_unit_end(s, 1, &err), &err, "unit 1");
    cn_store_unit_begin(s);
    cn_val_t bad[] = {CN_VTEXT("not a number")};
    int64_t n;
    assert_int_equal(
        cn_store_one_int(s, "SELECT COUNT(*) FROM rows WHERE n = $1", bad, 1, &n, &err), CN_ERR);
    assert_non_null(strstr(err.msg, "22P02"));
    pg_must(cn_store_unit_end(s, 0, &err), &err, "unit 2");
    pg_must(cn_store_batch_commit(s, &err), &err, "commit");
    assert_int_equal(count(s, "name = 'read-1'"), 1);

    /* outside any unit: nothing to go back to, the whole batch fails */
    pg_must(cn_store_batch_begin(s, &err), &err, "begin");
    pg_must(insert(s, "doomed", 1, &err), &err, "doomed");
    assert_int_equal(insert(s, "doomed", 1, &err), CN_ECONFLICT);
    assert_int_equal(insert(s, "doomed-too", 1, &err), CN_EBUSY); /* the batch is failed */
    assert_int_not_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(count(s, "name LIKE 'doomed%'"), 0);
    cn_store_set_batching(s, 0);
}

/* Plain transactions (job workers, the CLI): commit, rollback, and a failed statement
 * makes the commit fail instead of silently rolling back. */
static void test_plain_transactions(void **state)
{
    (void)state;
    cn_err_t err = {0};
    pg_must(cn_store_begin(s, &err), &err, "begin");
    pg_must(insert(s, "plain-1", 1, &err), &err, "plain-1");
    pg_must(cn_store_commit(s, &err), &err, "commit");
    pg_must(cn_store_begin(s, &err), &err, "begin");
    pg_must(insert(s, "plain-2", 1, &err), &err, "plain-2");
    cn_store_rollback(s);
    pg_must(cn_store_begin(s, &err), &err, "begin");
    pg_must(insert(s, "plain-3", 1, &err), &err, "plain-3");
    assert_int_equal(insert(s, "plain-1", 1, &err), CN_ECONFLICT);
    assert_int_not_equal(cn_store_commit(s, &err), 0);
    assert_false(cn_store_in_txn(s));
    assert_int_equal(count(s, "name LIKE 'plain-%'"), 1);
    int64_t changes = 0;
    pg_must(cn_store_exec(s,
                          "UPDATE rows SET n = n + 1 WHERE name LIKE 'plain-%' OR name = 'kept-1'",
                          NULL, 0, &changes, &err),
            &err, "update");
    assert_int_equal(changes, 2);
}

/* Blobs read back byte for byte (NUL and invalid UTF-8 included); booleans as 1 and 0. */
static void test_blobs_and_booleans(void **state)
{
    (void)state;
    cn_err_t err = {0};
    const char bytes[] = {'a', 0, (char)0xff, (char)0xfe, '\n', 'z'};
    cn_val_t a[] = {CN_VINT(1), CN_VBLOB(bytes, sizeof(bytes))};
    pg_must(cn_store_exec(s, "INSERT INTO blobs (id, data) VALUES ($1, $2)", a, 2, NULL, &err),
            &err, "insert blob");
    cn_stmt_t *st;
    pg_must(cn_store_query(s, "SELECT data, data IS NULL, EXISTS (SELECT 1 FROM blobs) FROM blobs",
                           NULL, 0, &st, &err),
            &err, "select");
    assert_int_equal(cn_stmt_step(st, &err), CN_ROW);
    size_t len = 0;
    const char *got = cn_stmt_text(st, 0, &len);
    assert_int_equal(len, sizeof(bytes));
    assert_memory_equal(got, bytes, sizeof(bytes));
    assert_int_equal(cn_stmt_int(st, 1), 0);
    assert_int_equal(cn_stmt_int(st, 2), 1);
    assert_int_equal(cn_stmt_step(st, &err), CN_DONE);
    cn_stmt_finish(st);
}

/* The server ends the session: what runs then is CN_EBUSY (a 503), and the store comes
 * back by itself once the server answers again. */
static void test_lost_connection(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_store_t *victim = open_store(db.url);
    int64_t pid = 0;
    pg_must(cn_store_one_int(victim, "SELECT pg_backend_pid()", NULL, 0, &pid, &err), &err, "pid");
    cn_val_t a[] = {CN_VINT(pid)};
    pg_must(cn_store_exec(s, "SELECT pg_terminate_backend(CAST($1 AS INTEGER))", a, 1, NULL, &err),
            &err, "terminate");
    int64_t n = 0;
    assert_int_equal(cn_store_one_int(victim, "SELECT COUNT(*) FROM rows", NULL, 0, &n, &err),
                     CN_EBUSY);
    /* the next attempt reconnects (after the short pause between attempts) */
    int rc = CN_EBUSY;
    for (int i = 0; i < 200 && rc == CN_EBUSY; i++) {
        rc = cn_store_one_int(victim, "SELECT COUNT(*) FROM rows", NULL, 0, &n, &err);
        if (rc == CN_EBUSY)
            usleep(10 * 1000);
    }
    pg_must(rc, &err, "after reconnect");
    assert_true(n > 0);
    cn_store_close(victim);
}

/* A batch whose connection dies before it commits: every write in it is gone, the
 * commit says busy, and the next batch works. */
static void test_connection_lost_mid_batch(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_store_t *victim = open_store(db.url);
    cn_store_set_batching(victim, 1);
    int64_t pid = 0;
    pg_must(cn_store_one_int(victim, "SELECT pg_backend_pid()", NULL, 0, &pid, &err), &err, "pid");
    cn_store_unit_begin(victim);
    pg_must(insert(victim, "lost", 1, &err), &err, "lost");
    pg_must(cn_store_unit_end(victim, 1, &err), &err, "unit");
    cn_val_t a[] = {CN_VINT(pid)};
    pg_must(cn_store_exec(s, "SELECT pg_terminate_backend(CAST($1 AS INTEGER))", a, 1, NULL, &err),
            &err, "terminate");
    assert_int_equal(cn_store_batch_commit(victim, &err), CN_EBUSY);
    assert_false(cn_store_batch_open(victim));
    assert_int_equal(count(s, "name = 'lost'"), 0);
    int rc = CN_EBUSY;
    for (int i = 0; i < 200 && rc == CN_EBUSY; i++) {
        cn_store_unit_begin(victim);
        rc = insert(victim, "found", 1, &err);
        cn_ignore(cn_store_unit_end(victim, rc == 0, NULL));
        if (rc == 0)
            rc = cn_store_batch_commit(victim, &err);
        else
            cn_ignore(cn_store_batch_commit(victim, NULL));
        if (rc == CN_EBUSY)
            usleep(10 * 1000);
    }
    pg_must(rc, &err, "the next batch");
    assert_int_equal(count(s, "name = 'found'"), 1);
    cn_store_close(victim);
}

/* Text must sort as bytes on both engines: a database with another collation is refused
 * with the statement that makes a right one. */
static void test_collation_refused(void **state)
{
    (void)state;
    pg_db_t other;
    pg_db_create(&other, "cairn_test_pg_store_coll", "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'");
    cn_store_opts_t opts = {.url = other.url, .data_dir = "/nonexistent"};
    cn_err_t err = {0};
    cn_store_t *st = NULL;
    assert_int_equal(cn_store_open(&opts, &st, &err), CN_EINVAL);
    assert_null(st);
    assert_non_null(strstr(err.msg, "LC_COLLATE 'C'"));
    pg_db_drop(&other);
}

/* SQL built per request must not grow the connection's prepared statements without
 * bound: past the cap they are dropped and made again, and a statement being read when
 * that happens reads on. */
static void test_statement_cache_is_bounded(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_store_t *st = open_store(db.url);
    cn_stmt_t *held;
    pg_must(cn_store_query(st, "SELECT name FROM rows ORDER BY name", NULL, 0, &held, &err), &err,
            "held");
    assert_int_equal(cn_stmt_step(held, &err), CN_ROW);
    char first[64];
    snprintf(first, sizeof(first), "%s", cn_stmt_text(held, 0, NULL));
    int64_t n = 0, most = 0;
    for (int i = 0; i < 2500; i++) {
        char sql[96];
        snprintf(sql, sizeof(sql), "SELECT %d + COUNT(*) FROM rows WHERE n >= 0", i);
        pg_must(cn_store_one_int(st, sql, NULL, 0, &n, &err), &err, sql);
        assert_true(n >= i);
        if (i % 100 == 0) {
            int64_t prepared = 0;
            pg_must(cn_store_one_int(st, "SELECT COUNT(*) FROM pg_prepared_statements", NULL, 0,
                                     &prepared, &err),
                    &err, "count");
            most = prepared > most ? prepared : most;
        }
    }
    assert_true(most > 0 && most <= 1024 + 2);
    /* the statement held across the flushes still reads its own rows */
    size_t rows = 1;
    while (cn_stmt_step(held, &err) == CN_ROW)
        rows++;
    assert_true(rows > 1);
    cn_stmt_finish(held);
    pg_must(cn_store_query(st, "SELECT name FROM rows ORDER BY name", NULL, 0, &held, &err), &err,
            "again");
    assert_int_equal(cn_stmt_step(held, &err), CN_ROW);
    assert_string_equal(cn_stmt_text(held, 0, NULL), first);
    cn_stmt_finish(held);
    cn_store_close(st);
}

/* A multi-row insert of 100 rows of many columns binds thousands of parameters. */
static void test_many_parameters(void **state)
{
    (void)state;
    enum { N = 3000 };
    static char sql[N * 12 + 64]; /* ", ($NNNN)" is at most 10 bytes a row */
    static cn_val_t a[N];
    size_t len = (size_t)snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM (VALUES ($1)");
    a[0] = CN_VINT(0);
    for (int i = 1; i < N; i++) {
        len += (size_t)snprintf(sql + len, sizeof(sql) - len, ", ($%d)", i + 1);
        a[i] = CN_VINT(i);
    }
    snprintf(sql + len, sizeof(sql) - len, ") AS v (x)");
    cn_err_t err = {0};
    int64_t n = 0;
    pg_must(cn_store_one_int(s, sql, a, N, &n, &err), &err, "3000 parameters");
    assert_int_equal(n, N);
}

/* A command that needs Cairn's data (must_exist) is refused by a database without any. */
static void test_must_exist_needs_a_schema(void **state)
{
    (void)state;
    pg_db_t empty;
    pg_db_create(&empty, "cairn_test_pg_store_empty", "LC_COLLATE 'C' LC_CTYPE 'C'");
    cn_store_opts_t opts = {.url = empty.url, .data_dir = "/nonexistent", .must_exist = 1};
    cn_err_t err = {0};
    cn_store_t *st = NULL;
    assert_int_equal(cn_store_open(&opts, &st, &err), CN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no Cairn database"));
    opts.url = db.url; /* the test's own database has been migrated */
    pg_must(cn_store_open(&opts, &st, &err), &err, "open migrated");
    cn_store_close(st);
    pg_db_drop(&empty);
}

static void test_backup_names_pg_dump(void **state)
{
    (void)state;
    cn_err_t err = {0};
    assert_int_equal(cn_store_backup(s, "/tmp/never-written", 0, &err), CN_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "pg_dump"));
    assert_int_equal(cn_store_checkpoint(s, &err), 0);
}

/* ---- reads on fibers ---- */

typedef struct {
    const char *sql;
    const char *arg;
    int reads; /* how many times to run it, one after another */
    int rc;    /* of the last read */
    int64_t n; /* its value */
    int done;  /* the fiber's function returned */
} fiber_read_t;

static void read_on_fiber(void *arg)
{
    fiber_read_t *fr = arg;
    for (int i = 0; i < fr->reads; i++) {
        cn_val_t a[] = {CN_VTEXT(fr->arg)};
        cn_err_t err = {0};
        fr->rc = cn_store_one_int(s, fr->sql, a, 1, &fr->n, &err);
    }
    fr->done = 1;
}

static const char value_of[] = "SELECT n FROM rows WHERE name = $1";

/* Reads of several fibers are sent ahead and suspend them; resuming reads their results
 * in the order sent: each gets its own (the same SQL text in use by several at once), a
 * failing one fails alone, and a fiber that reads twice suspends twice. */
static void test_reads_on_fibers(void **state)
{
    (void)state;
    cn_err_t err = {0};
    for (int i = 1; i <= 4; i++) {
        char name[16];
        snprintf(name, sizeof(name), "fiber-%d", i);
        pg_must(insert(s, name, 100 + i, &err), &err, name);
    }
    cn_store_set_suspending(s, 1);
    assert_true(cn_store_suspends(s));
    fiber_read_t fr[6] = {
        {value_of, "fiber-1", 1}, {value_of, "fiber-2", 1},
        {value_of, "fiber-3", 2}, {"SELECT CAST($1 AS INTEGER)", "not a number", 1},
        {value_of, "fiber-4", 1}, {value_of, "no such row", 1},
    };
    for (size_t i = 0; i < 6; i++)
        assert_non_null(cn_fiber_start(read_on_fiber, &fr[i], NULL, NULL)); /* suspended */
    for (size_t i = 0; i < 6; i++)
        assert_false(fr[i].done);
    assert_int_equal(cn_store_resume_waiting(s), 7); /* fiber-3 twice */
    for (size_t i = 0; i < 6; i++)
        assert_true(fr[i].done);
    assert_int_equal(fr[0].rc, 0);
    assert_int_equal(fr[0].n, 101);
    assert_int_equal(fr[1].n, 102);
    assert_int_equal(fr[2].rc, 0);
    assert_int_equal(fr[2].n, 103);
    assert_int_equal(fr[3].rc, CN_ERR); /* invalid input syntax, its own */
    assert_int_equal(fr[4].rc, 0);
    assert_int_equal(fr[4].n, 104);
    assert_int_equal(fr[5].rc, CN_ENOTFOUND);
    assert_int_equal(cn_store_resume_waiting(s), 0);
    cn_store_set_suspending(s, 0);
}

/* A statement run at once while reads wait first reads their results: they ran before it
 * (they do not see its write), and their fibers resume afterwards with them. */
static void test_statement_while_reads_wait(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_store_set_suspending(s, 1);
    fiber_read_t fr[2] = {{"SELECT COUNT(*) FROM rows WHERE name LIKE $1", "wait-%", 1},
                          {value_of, "wait-1", 1}};
    for (size_t i = 0; i < 2; i++)
        assert_non_null(cn_fiber_start(read_on_fiber, &fr[i], NULL, NULL));
    pg_must(insert(s, "wait-1", 7, &err), &err, "insert while reads wait");
    assert_int_equal(count(s, "name LIKE 'wait-%'"), 1);
    assert_false(fr[0].done);
    assert_int_equal(cn_store_resume_waiting(s), 2);
    assert_int_equal(fr[0].rc, 0);
    assert_int_equal(fr[0].n, 0);
    assert_int_equal(fr[1].rc, CN_ENOTFOUND);
    cn_store_set_suspending(s, 0);
}

/* Transaction control sent ahead with nothing after it yet (a batch just opened) is read
 * with the reads that wait, and resumes no fiber of its own. */
static void test_control_sent_ahead_alone(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_store_set_suspending(s, 1);
    cn_store_set_batching(s, 1);
    fiber_read_t fr = {value_of, "fiber-3", 1};
    assert_non_null(cn_fiber_start(read_on_fiber, &fr, NULL, NULL));
    pg_must(cn_store_batch_begin(s, &err), &err, "batch after a read sent ahead");
    assert_int_equal(cn_store_resume_waiting(s), 1);
    assert_int_equal(fr.n, 103);
    pg_must(cn_store_batch_commit(s, &err), &err, "commit");

    pg_must(cn_store_batch_begin(s, &err), &err, "batch alone");
    assert_int_equal(cn_store_resume_waiting(s), 0);
    pg_must(insert(s, "in-batch-after-resume", 1, &err), &err, "insert");
    pg_must(cn_store_batch_commit(s, &err), &err, "commit");
    assert_int_equal(count(s, "name = 'in-batch-after-resume'"), 1);
    cn_store_set_batching(s, 0);
    cn_store_set_suspending(s, 0);
}

/* No suspension without cn_store_set_suspending, nor inside the batch: those reads run at
 * once, on the fiber. */
static void test_reads_that_do_not_suspend(void **state)
{
    (void)state;
    cn_err_t err = {0};
    fiber_read_t plain = {value_of, "fiber-1", 1};
    assert_null(cn_fiber_start(read_on_fiber, &plain, NULL, NULL));
    assert_int_equal(plain.n, 101);

    cn_store_set_suspending(s, 1);
    cn_store_set_batching(s, 1);
    pg_must(cn_store_batch_begin(s, &err), &err, "batch");
    fiber_read_t in_batch = {value_of, "fiber-2", 1};
    assert_null(cn_fiber_start(read_on_fiber, &in_batch, NULL, NULL));
    assert_int_equal(in_batch.n, 102);
    pg_must(cn_store_batch_commit(s, &err), &err, "commit");
    cn_store_set_batching(s, 0);
    cn_store_set_suspending(s, 0);
}

/* Writes sent ahead (cn_store_set_writes_ahead): a unit's INSERT returns before its
 * outcome is known; one that fails later makes every statement of the batch after it
 * CN_EBUSY and the commit roll back, and cn_store_batch_late says so. The same units run
 * again with writes ahead off: the failing one sees its own error, the others commit.
 * A unit opened by such a write has no savepoint, so anything that would roll it back
 * alone loses the batch too. */
static void test_writes_ahead(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_store_t *other = open_store(db.url);
    cn_store_set_batching(s, 1);
    int rcs[3];
    cn_store_set_writes_ahead(s, 1);
    cn_store_unit_begin(s);
    assert_int_equal(insert(s, "ahead-1", 1, &err), 0);
    pg_must(cn_store_unit_end(s, 1, &err), &err, "unit 1");
    cn_store_unit_begin(s);
    assert_int_equal(insert(s, "ahead-1", 2, &err), 0); /* sent: its conflict shows later */
    pg_must(cn_store_unit_end(s, 1, &err), &err, "unit 2");
    cn_store_unit_begin(s);
    int64_t n = 0;
    assert_int_equal(cn_store_one_int(s, "SELECT COUNT(*) FROM rows", NULL, 0, &n, &err), CN_EBUSY);
    assert_non_null(strstr(err.msg, "sent ahead"));
    assert_int_equal(insert(s, "ahead-3", 3, &err), CN_EBUSY);
    cn_ignore(cn_store_unit_end(s, 0, &err));
    cn_store_set_writes_ahead(s, 0);
    assert_int_equal(cn_store_batch_commit(s, &err), CN_EBUSY);
    assert_true(cn_store_batch_late(s));
    assert_int_equal(count(other, "name LIKE 'ahead-%'"), 0);

    /* again, carefully: the conflict is unit 2's own, and units 1 and 3 commit */
    const char *names[] = {"ahead-1", "ahead-1", "ahead-3"};
    for (int i = 0; i < 3; i++) {
        cn_store_unit_begin(s);
        rcs[i] = insert(s, names[i], i, &err);
        cn_ignore(cn_store_unit_end(s, rcs[i] == 0, &err));
    }
    pg_must(cn_store_batch_commit(s, &err), &err, "careful turn");
    assert_int_equal(rcs[0], 0);
    assert_int_equal(rcs[1], CN_ECONFLICT);
    assert_int_equal(rcs[2], 0);
    assert_false(cn_store_batch_late(s));
    assert_int_equal(count(other, "name LIKE 'ahead-%'"), 2);

    /* a unit opened by a write sent ahead has no savepoint: the handler failing after it,
     * or a later statement of its failing, loses the batch the same way */
    cn_store_set_writes_ahead(s, 1);
    cn_store_unit_begin(s);
    assert_int_equal(insert(s, "ahead-bare-1", 1, &err), 0);
    cn_ignore(cn_store_unit_end(s, 0, &err)); /* the handler answered an error */
    cn_store_set_writes_ahead(s, 0);
    assert_int_equal(cn_store_batch_commit(s, &err), CN_EBUSY);
    assert_true(cn_store_batch_late(s));
    cn_store_set_writes_ahead(s, 1);
    cn_store_unit_begin(s);
    assert_int_equal(insert(s, "ahead-bare-2", 2, &err), 0);
    cn_val_t bad[] = {CN_VTEXT("not a number")};
    assert_int_equal(
        cn_store_one_int(s, "SELECT COUNT(*) FROM rows WHERE n = $1", bad, 1, &n, &err), CN_EBUSY);
    cn_ignore(cn_store_unit_end(s, 0, &err));
    cn_store_set_writes_ahead(s, 0);
    assert_int_equal(cn_store_batch_commit(s, &err), CN_EBUSY);
    assert_true(cn_store_batch_late(s));
    assert_int_equal(count(other, "name LIKE 'ahead-bare-%'"), 0);

    /* a turn whose writes ahead all succeed commits them, in one round trip per batch */
    cn_store_set_writes_ahead(s, 1);
    for (int i = 0; i < 50; i++) {
        char name[32];
        snprintf(name, sizeof(name), "ahead-many-%d", i);
        cn_store_unit_begin(s);
        assert_int_equal(insert(s, name, i, &err), 0);
        pg_must(cn_store_unit_end(s, 1, &err), &err, "unit");
    }
    cn_store_set_writes_ahead(s, 0);
    pg_must(cn_store_batch_commit(s, &err), &err, "commit");
    assert_int_equal(count(other, "name LIKE 'ahead-many-%'"), 50);
    cn_store_set_batching(s, 0);
    cn_store_close(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_driver_and_migrations),
        cmocka_unit_test(test_batch_units_and_neighbours),
        cmocka_unit_test(test_failed_read_in_batch),
        cmocka_unit_test(test_plain_transactions),
        cmocka_unit_test(test_blobs_and_booleans),
        cmocka_unit_test(test_lost_connection),
        cmocka_unit_test(test_connection_lost_mid_batch),
        cmocka_unit_test(test_collation_refused),
        cmocka_unit_test(test_statement_cache_is_bounded),
        cmocka_unit_test(test_many_parameters),
        cmocka_unit_test(test_must_exist_needs_a_schema),
        cmocka_unit_test(test_backup_names_pg_dump),
        cmocka_unit_test(test_reads_on_fibers),
        cmocka_unit_test(test_statement_while_reads_wait),
        cmocka_unit_test(test_control_sent_ahead_alone),
        cmocka_unit_test(test_reads_that_do_not_suspend),
        cmocka_unit_test(test_writes_ahead),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
