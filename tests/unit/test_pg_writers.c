/*
 * What keeps several writers on one PostgreSQL correct where SQLite relies on its process
 * write lock, against a real PostgreSQL 15 (ctest's pg fixture, see test_pg.c): each
 * module's own statement text, run on two connections as two nodes would run it, with
 * the tables made by the modules' PostgreSQL migrations. The second connection sets a
 * lock_timeout, so "it waits for the first" is seen as CN_EBUSY (lock not available)
 * while the first holds the lock, never as a measured delay.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/audit.h"
#include "auth/auth.h"
#include "auth/lockout.h"
#include "auth/members.h"
#include "auth/tokens.h"
#include "core/events_int.h"
#include "pg_db.h"
#include "store/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pg_db_t db;
static cn_pg_t *a, *b; /* two nodes */

static void run(cn_pg_t *c, const char *sql, const cn_val_t *args, size_t n)
{
    cn_err_t err = {0};
    pg_must(cn_pg_run(c, sql, args, n, NULL, NULL, &err), &err, sql);
}

/* Runs sql expecting one row, and returns column 0 as an integer. */
static int64_t one_int(cn_pg_t *c, const char *sql, const cn_val_t *args, size_t n)
{
    cn_err_t err = {0};
    cn_pg_rows_t r;
    pg_must(cn_pg_run(c, sql, args, n, &r, NULL, &err), &err, sql);
    assert_int_equal(cn_pg_next(&r), CN_ROW);
    int64_t v = cn_pg_int(&r, 0);
    cn_pg_rows_clear(&r);
    return v;
}

/* In a new transaction of c that gives up on a lock at once: sql must find its lock held
 * (CN_EBUSY). The transaction is rolled back. */
static void must_wait(cn_pg_t *c, const char *sql, const cn_val_t *args, size_t n)
{
    cn_err_t err = {0};
    pg_script(c, "BEGIN; SET LOCAL lock_timeout = '20ms'");
    assert_int_equal(cn_pg_run(c, sql, args, n, NULL, NULL, &err), CN_EBUSY);
    assert_non_null(strstr(err.msg, "lock timeout"));
    pg_script(c, "ROLLBACK");
}

/* Like must_wait, but sql must run without waiting; the transaction is rolled back. */
static void must_not_wait(cn_pg_t *c, const char *sql, const cn_val_t *args, size_t n,
                          int64_t *changes)
{
    cn_err_t err = {0};
    pg_script(c, "BEGIN; SET LOCAL lock_timeout = '20ms'");
    pg_must(cn_pg_run(c, sql, args, n, NULL, changes, &err), &err, sql);
    pg_script(c, "ROLLBACK");
}

static int setup(void **state)
{
    (void)state;
    pg_db_open_two(&db, "cairn_test_pg_writers", &a, &b);
    /* each module's first PostgreSQL migration creates its whole schema */
    pg_script(a, cn_migration_pg(&auth_module.migrations[0]));
    pg_script(a, cn_migration_pg(&cn_events_migrations[0]));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pg_db_close_two(&db, a, b);
    return 0;
}

/* Two appends to the audit chain: the second takes the chain's lock only once the first
 * committed, and then reads the first's entry as the tail (one chain, not a fork). */
static void test_audit_appends_take_turns(void **state)
{
    (void)state;
    const char *lock = auth_audit_chain_lock.postgres;
    assert_null(auth_audit_chain_lock.sqlite); /* SQLite: the process write lock */
    pg_script(a, "BEGIN");
    run(a, lock, NULL, 0);
    cn_err_t err = {0};
    cn_pg_rows_t r;
    pg_must(cn_pg_run(a, auth_audit_tail_sql, NULL, 0, &r, NULL, &err), &err, "tail");
    assert_int_equal(cn_pg_next(&r), CN_DONE); /* an empty chain */
    cn_pg_rows_clear(&r);
    run(a,
        "INSERT INTO audit_log (seq, tenant_id, actor, action, object, ip, request_id, status,"
        " at, salt, personal, hash) VALUES (1, 't1', 'u1', 'POST /a', NULL, '', 'r1', 201, 1,"
        " 's', 'p', 'h1')",
        NULL, 0);
    must_wait(b, lock, NULL, 0);
    pg_script(a, "COMMIT");
    pg_script(b, "BEGIN");
    run(b, lock, NULL, 0);
    assert_int_equal(one_int(b, auth_audit_tail_sql, NULL, 0), 1);
    pg_script(b, "ROLLBACK");
}

/* A unit of work rolled back gives the chain's lock back: a tail cached across it is not
 * covered by the lock any more (audit.c reads it again, after locking again). */
static void test_audit_lock_goes_with_a_rolled_back_unit(void **state)
{
    (void)state;
    const char *lock = auth_audit_chain_lock.postgres;
    pg_script(a, "BEGIN; SAVEPOINT cn_unit");
    run(a, lock, NULL, 0);
    must_wait(b, lock, NULL, 0);
    pg_script(a, "ROLLBACK TO SAVEPOINT cn_unit; RELEASE SAVEPOINT cn_unit");
    must_not_wait(b, lock, NULL, 0, NULL);
    pg_script(a, "SAVEPOINT cn_unit");
    run(a, lock, NULL, 0);
    pg_script(a, "RELEASE SAVEPOINT cn_unit"); /* released: the transaction keeps it */
    must_wait(b, lock, NULL, 0);
    pg_script(a, "ROLLBACK");
}

/* Two transactions publishing on one channel: the second numbers its events after the
 * first's, once the first committed; another channel does not wait. */
static void test_event_numbers_follow_the_channel_row(void **state)
{
    (void)state;
    cn_val_t first[] = {CN_VTEXT("t1"), CN_VTEXT("notes"), CN_VINT(2), CN_VTEXT("e-a")};
    cn_val_t second[] = {CN_VTEXT("t1"), CN_VTEXT("notes"), CN_VINT(1), CN_VTEXT("e-b")};
    cn_val_t other[] = {CN_VTEXT("t1"), CN_VTEXT("chat:1"), CN_VINT(1), CN_VTEXT("e-c")};
    pg_script(a, "BEGIN");
    assert_int_equal(one_int(a, cn_events_allocate_sql, first, 4), 2);
    must_wait(b, cn_events_allocate_sql, second, 4); /* the row is being made */
    must_not_wait(b, cn_events_allocate_sql, other, 4, NULL);
    pg_script(a, "COMMIT");
    pg_script(a, "BEGIN");
    assert_int_equal(one_int(a, cn_events_allocate_sql, first, 4), 4);
    must_wait(b, cn_events_allocate_sql, second, 4); /* the row is locked */
    pg_script(a, "COMMIT");
    pg_script(b, "BEGIN");
    cn_err_t err = {0};
    cn_pg_rows_t r;
    pg_must(cn_pg_run(b, cn_events_allocate_sql, second, 4, &r, NULL, &err), &err, "allocate");
    assert_int_equal(cn_pg_next(&r), CN_ROW);
    assert_int_equal(cn_pg_int(&r, 0), 5);
    assert_string_equal(cn_pg_text(&r, 1, NULL), "e-a"); /* the first epoch stays */
    cn_pg_rows_clear(&r);
    pg_script(b, "COMMIT");
}

/* Two failed sign-ins of one pair: the second locks the rows only after the first wrote
 * its count, and reads that count (no lost increment). */
static void test_lockout_counts_take_turns(void **state)
{
    (void)state;
    cn_val_t pair[] = {CN_VTEXT("acme/a@x.example"), CN_VTEXT("192.0.2.1")};
    cn_val_t whole[] = {CN_VTEXT("acme/a@x.example"), CN_VTEXT("")};
    const char *count = "UPDATE login_failures SET failures = failures + 1, window_start = $3"
                        " WHERE account = $1 AND ip = $2";
    for (int i = 0; i < 2; i++) {
        pg_script(a, "BEGIN");
        assert_int_equal(one_int(a, auth_lockout_lock_sql, pair, 2), i); /* made, then read */
        assert_int_equal(one_int(a, auth_lockout_lock_sql, whole, 2), i);
        must_wait(b, auth_lockout_lock_sql, pair, 2);
        cn_val_t p[] = {pair[0], pair[1], CN_VINT(cn_now_ms())};
        cn_val_t w[] = {whole[0], whole[1], CN_VINT(cn_now_ms())};
        run(a, count, p, 3);
        run(a, count, w, 3);
        pg_script(a, "COMMIT");
    }
    pg_script(b, "BEGIN");
    assert_int_equal(one_int(b, auth_lockout_lock_sql, pair, 2), 2);
    pg_script(b, "ROLLBACK");
}

/* Forgetting stale rows skips a row a sign-in holds right now instead of waiting for it. */
static void test_lockout_clean_up_skips_rows_in_use(void **state)
{
    (void)state;
    assert_non_null(auth_lockout_forget_sql.sqlite);
    assert_non_null(auth_lockout_sweep_sql.sqlite);
    pg_script(a, "INSERT INTO login_failures (account, ip, failures, window_start, lockouts,"
                 " locked_until, known_until) VALUES ('acme/b@x.example', '198.51.100.1', 1, 1, 0,"
                 " 1, 1), ('acme/b@x.example', '198.51.100.2', 1, 1, 0, 1, 1),"
                 " ('other/c@x.example', '198.51.100.3', 1, 1, 0, 1, 1)");
    cn_val_t held[] = {CN_VTEXT("acme/b@x.example"), CN_VTEXT("198.51.100.2")};
    pg_script(a, "BEGIN");
    one_int(a, auth_lockout_lock_sql, held, 2);
    int64_t now = cn_now_ms(), changes = -1;
    cn_val_t forget[] = {CN_VTEXT("acme/b@x.example"), CN_VINT(now), CN_VINT(now)};
    must_not_wait(b, auth_lockout_forget_sql.postgres, forget, 3, &changes);
    assert_int_equal(changes, 1); /* .1 only: .2 is in use */
    cn_val_t sweep[] = {CN_VINT(now), CN_VINT(now)};
    must_not_wait(b, auth_lockout_sweep_sql.postgres, sweep, 2, &changes);
    assert_int_equal(changes, 2); /* .1 and the other account's .3 */
    pg_script(a, "COMMIT");
    cn_err_t err = {0};
    pg_must(cn_pg_run(b, auth_lockout_sweep_sql.postgres, sweep, 2, NULL, &changes, &err), &err,
            "sweep");
    assert_int_equal(changes, 3); /* free now */
}

/* Two changes that each take an owner away: the second counts the owners only after the
 * first committed, and sees one owner left. Adding a member meanwhile does not wait. */
static void test_owner_counts_take_turns(void **state)
{
    (void)state;
    pg_script(a,
              "INSERT INTO tenants (id, slug, name, created_at) VALUES ('t1', 'acme', 'Acme', 1);"
              "INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES"
              " ('u1', 'u1@x.example', 'h', 1, 1), ('u2', 'u2@x.example', 'h', 1, 1),"
              " ('u3', 'u3@x.example', 'h', 1, 1);"
              "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES"
              " ('t1', 'u1', 'owner', 1), ('t1', 'u2', 'owner', 1)");
    cn_val_t t[] = {CN_VTEXT("t1")};
    const char *owners = "SELECT count(*) FROM memberships WHERE tenant_id = $1 AND role = 'owner'";
    pg_script(a, "BEGIN");
    run(a, auth_owners_lock_sql, t, 1);
    assert_int_equal(one_int(a, owners, t, 1), 2);
    run(a, "UPDATE memberships SET role = 'admin' WHERE tenant_id = 't1' AND user_id = 'u2'", NULL,
        0);
    must_wait(b, auth_owners_lock_sql, t, 1);
    must_not_wait(b,
                  "INSERT INTO memberships (tenant_id, user_id, role, created_at)"
                  " VALUES ('t1', 'u3', 'member', 1)",
                  NULL, 0, NULL);
    pg_script(a, "COMMIT");
    pg_script(b, "BEGIN");
    run(b, auth_owners_lock_sql, t, 1);
    assert_int_equal(one_int(b, owners, t, 1), 1); /* the last owner: b must refuse */
    pg_script(b, "ROLLBACK");
}

/* Two nodes starting on a database without a signing key: the second looks for an
 * active key only once the first committed the one it added, and finds it. */
static void test_first_signing_key_is_made_once(void **state)
{
    (void)state;
    const char *lock = auth_keys_lock.postgres;
    assert_null(auth_keys_lock.sqlite);
    const char *active = "SELECT count(*) FROM signing_keys WHERE retired_at IS NULL";
    pg_script(a, "BEGIN");
    run(a, lock, NULL, 0);
    assert_int_equal(one_int(a, active, NULL, 0), 0);
    run(a, "INSERT INTO signing_keys (kid, secret, created_at) VALUES ('k1', 'v1:x', 1)", NULL, 0);
    must_wait(b, lock, NULL, 0);
    pg_script(a, "COMMIT");
    pg_script(b, "BEGIN");
    run(b, lock, NULL, 0);
    assert_int_equal(one_int(b, active, NULL, 0), 1); /* b adds none */
    pg_script(b, "ROLLBACK");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_audit_appends_take_turns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_lock_goes_with_a_rolled_back_unit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_event_numbers_follow_the_channel_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lockout_counts_take_turns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lockout_clean_up_skips_rows_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_counts_take_turns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_signing_key_is_made_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
