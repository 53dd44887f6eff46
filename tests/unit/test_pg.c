/*
 * The PostgreSQL connection of the store (src/store/pg.c) against a real PostgreSQL 15
 * started on loopback by ctest's pg fixture (scripts/pg-test; its URL in
 * $CAIRN_TEST_PG_DIR/url). Each run works in a database of its own, dropped at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pg_db.h"
#include "store/pg_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pg_db_t db;
static cn_pg_t *c;

static int setup(void **state)
{
    (void)state;
    pg_db_create(&db, "cairn_test_pg", "");
    cn_err_t err = {0};
    pg_must(cn_pg_connect(db.url, &c, &err), &err, "connect");
    pg_must(cn_pg_script(c,
                         "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT UNIQUE,"
                         " score DOUBLE PRECISION, n BIGINT NOT NULL DEFAULT 0 CHECK (n >= 0))",
                         &err),
            &err, "create table");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cn_pg_close(c);
    pg_db_drop(&db);
    return 0;
}

/* one row of "SELECT …" with args, into rows */
static void one_row(const char *sql, const cn_val_t *args, size_t n, cn_pg_rows_t *rows)
{
    cn_err_t err = {0};
    pg_must(cn_pg_run(c, sql, args, n, rows, NULL, &err), &err, sql);
    assert_int_equal(cn_pg_next(rows), CN_ROW);
}

static void test_values_round_trip(void **state)
{
    (void)state;
    const char wide[] = "Zoë “quotes” 'single' \\ back ünï 日本";
    const char longer[] = "abcdef"; /* only "abc" is the value: text need not end in NUL */
    cn_val_t a[] = {CN_VINT(INT64_MAX),
                    CN_VINT(INT64_MIN),
                    CN_VREAL(-0.123456789012345678),
                    CN_VREAL(1e300),
                    CN_VTEXT(wide),
                    CN_VTEXTN(longer, 3),
                    CN_VNULL};
    cn_pg_rows_t r;
    one_row("SELECT CAST($1 AS BIGINT), CAST($2 AS BIGINT), CAST($3 AS DOUBLE PRECISION),"
            " CAST($4 AS DOUBLE PRECISION), CAST($5 AS TEXT), CAST($6 AS TEXT),"
            " CAST($7 AS TEXT), $1 = $1, 1 = 2",
            a, CN_ARRAY_SIZE(a), &r);
    assert_true(cn_pg_int(&r, 0) == INT64_MAX);
    assert_true(cn_pg_int(&r, 1) == INT64_MIN);
    assert_true(cn_pg_real(&r, 2) == -0.123456789012345678); /* exactly, not rounded */
    assert_true(cn_pg_real(&r, 3) == 1e300);
    size_t len;
    assert_string_equal(cn_pg_text(&r, 4, &len), wide);
    assert_int_equal(len, strlen(wide));
    assert_string_equal(cn_pg_text(&r, 5, &len), "abc");
    assert_null(cn_pg_text(&r, 6, &len));
    assert_true(cn_pg_is_null(&r, 6));
    assert_int_equal(cn_pg_int(&r, 7), 1); /* booleans read as 1 and 0, as in SQLite */
    assert_int_equal(cn_pg_int(&r, 8), 0);
    assert_int_equal(cn_pg_next(&r), CN_DONE);
    cn_pg_rows_clear(&r);
}

static void test_writes_count_changes_and_reuse_statements(void **state)
{
    (void)state;
    cn_err_t err = {0};
    int64_t changes = -1;
    static const char insert[] = "INSERT INTO t (id, name, score) VALUES ($1, $2, $3)";
    for (int i = 1; i <= 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "n%d", i);
        cn_val_t a[] = {CN_VINT(i), CN_VTEXT(name), CN_VREAL(i / 2.0)};
        pg_must(cn_pg_run(c, insert, a, 3, NULL, &changes, &err), &err, "insert");
        assert_int_equal(changes, 1);
    }
    cn_val_t up[] = {CN_VINT(2)};
    pg_must(cn_pg_run(c, "UPDATE t SET n = n + 1 WHERE id >= $1", up, 1, NULL, &changes, &err),
            &err, "update");
    assert_int_equal(changes, 2);
    /* the insert was prepared once on this connection, and is there under one name */
    cn_pg_rows_t r;
    cn_val_t q[] = {CN_VTEXT(insert)};
    one_row("SELECT COUNT(*) FROM pg_prepared_statements WHERE statement = $1", q, 1, &r);
    assert_int_equal(cn_pg_int(&r, 0), 1);
    cn_pg_rows_clear(&r);
}

static void test_errors_map_to_the_status_vocabulary(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_val_t dup[] = {CN_VINT(100), CN_VTEXT("n1")};
    assert_int_equal(
        cn_pg_run(c, "INSERT INTO t (id, name) VALUES ($1, $2)", dup, 2, NULL, NULL, &err),
        CN_ECONFLICT);
    assert_non_null(strstr(err.msg, "duplicate key"));
    assert_null(strstr(err.msg, "n1")); /* the row's values stay out of the message */
    cn_val_t neg[] = {CN_VINT(101), CN_VINT(-1)};
    assert_int_equal(
        cn_pg_run(c, "INSERT INTO t (id, n) VALUES ($1, $2)", neg, 2, NULL, NULL, &err),
        CN_EVALIDATION);
    assert_int_equal(cn_pg_run(c, "SELEKT 1", NULL, 0, NULL, NULL, &err), CN_ERR);
    assert_non_null(strstr(err.msg, "42601")); /* the SQLSTATE is in the message */
    /* the connection is still usable after each */
    cn_pg_rows_t r;
    one_row("SELECT COUNT(*) FROM t", NULL, 0, &r);
    assert_int_equal(cn_pg_int(&r, 0), 3);
    cn_pg_rows_clear(&r);
}

/* A repeatable-read transaction that updates a row another committed meanwhile. */
static void test_serialisation_failure_is_busy(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_pg_t *other;
    pg_must(cn_pg_connect(db.url, &other, &err), &err, "second connection");
    pg_must(cn_pg_script(c, "BEGIN ISOLATION LEVEL REPEATABLE READ", &err), &err, "begin");
    cn_pg_rows_t r;
    one_row("SELECT n FROM t WHERE id = 1", NULL, 0, &r);
    cn_pg_rows_clear(&r);
    pg_must(cn_pg_run(other, "UPDATE t SET n = n + 10 WHERE id = 1", NULL, 0, NULL, NULL, &err),
            &err, "concurrent update");
    assert_int_equal(cn_pg_run(c, "UPDATE t SET n = n + 1 WHERE id = 1", NULL, 0, NULL, NULL, &err),
                     CN_EBUSY);
    pg_must(cn_pg_script(c, "ROLLBACK", &err), &err, "rollback");
    cn_pg_close(other);
}

/* The server ends the session (a restart, an operator): the next statement is busy, not a
 * crash; a reconnect makes the statements again. */
static void test_lost_connection_then_reconnect(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_pg_rows_t r;
    one_row("SELECT pg_backend_pid()", NULL, 0, &r);
    cn_val_t pid[] = {CN_VINT(cn_pg_int(&r, 0))};
    cn_pg_rows_clear(&r);
    cn_pg_t *admin;
    pg_must(cn_pg_connect(db.admin_url, &admin, &err), &err, "admin");
    pg_must(cn_pg_run(admin, "SELECT pg_terminate_backend(CAST($1 AS INTEGER))", pid, 1, NULL, NULL,
                      &err),
            &err, "terminate");
    cn_pg_close(admin);
    assert_int_equal(cn_pg_run(c, "SELECT COUNT(*) FROM t", NULL, 0, &r, NULL, &err), CN_EBUSY);
    assert_false(cn_pg_alive(c));
    assert_int_equal(cn_pg_run(c, "SELECT COUNT(*) FROM t", NULL, 0, &r, NULL, &err), CN_EBUSY);
    pg_must(cn_pg_reconnect(c, &err), &err, "reconnect");
    one_row("SELECT COUNT(*) FROM t", NULL, 0, &r);
    assert_int_equal(cn_pg_int(&r, 0), 3);
    cn_pg_rows_clear(&r);
}

/* The postmaster of the pg fixture, from its data directory's postmaster.pid. */
static pid_t postmaster_pid(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/data/postmaster.pid", getenv("CAIRN_TEST_PG_DIR"));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long pid = 0;
    assert_int_equal(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    return (pid_t)pid;
}

/* A server that takes the connection but does not answer (here: its postmaster stopped, so
 * the kernel accepts and nobody replies) does not hold the caller for connect_timeout: the
 * reconnect says "still connecting" and the next call goes on with the same attempt, which
 * succeeds once the server answers. */
static void test_reconnect_to_a_silent_server_does_not_wait(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_pg_t *victim;
    pg_must(cn_pg_connect(db.url, &victim, &err), &err, "connect");
    pid_t pm = postmaster_pid();
    assert_int_equal(kill(pm, SIGSTOP), 0);
    int rc = cn_pg_reconnect(victim, &err);
    int rc2 = cn_pg_reconnect(victim, &err); /* the same attempt, still unanswered */
    assert_int_equal(kill(pm, SIGCONT), 0);
    assert_int_equal(rc, CN_EBUSY);
    assert_int_equal(rc2, CN_EBUSY);
    assert_non_null(strstr(err.msg, "still connecting"));
    assert_false(cn_pg_alive(victim));
    for (int i = 0; i < 400 && rc != 0; i++) /* the server answers again: up to 20 s */
        rc = cn_pg_reconnect(victim, &err);
    pg_must(rc, &err, "reconnect after the server answers");
    cn_pg_rows_t r;
    pg_must(cn_pg_run(victim, "SELECT COUNT(*) FROM t", NULL, 0, &r, NULL, &err), &err, "count");
    cn_pg_rows_clear(&r);
    cn_pg_close(victim);
}

static void test_unreachable_server_is_busy(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_pg_t *none;
    /* port 1 on loopback: refused at once; the password must not reach the message */
    assert_int_equal(
        cn_pg_connect("postgres://u:secret-pw@127.0.0.1:1/x?connect_timeout=2", &none, &err),
        CN_EBUSY);
    assert_null(strstr(err.msg, "secret-pw"));
    assert_non_null(strstr(err.msg, "cannot connect"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_round_trip),
        cmocka_unit_test(test_writes_count_changes_and_reuse_statements),
        cmocka_unit_test(test_errors_map_to_the_status_vocabulary),
        cmocka_unit_test(test_serialisation_failure_is_busy),
        cmocka_unit_test(test_lost_connection_then_reconnect),
        cmocka_unit_test(test_reconnect_to_a_silent_server_does_not_wait),
        cmocka_unit_test(test_unreachable_server_is_busy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
