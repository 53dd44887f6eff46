/*
 * Audit chain: appends inside batch transactions, a unit of work rolled back between
 * appends (regression: the cached chain tail used to point at the vanished entry),
 * tampering detected, erasure that keeps the chain verifiable, and staged entries written
 * at the batch's commit (several multi-row statements) or dropped with a failed batch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/audit.h"
#include "auth/auth.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];
static cn_store_t *s;

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/cairn-audit-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 1000};
    cn_err_t err = {0};
    cn_migration_set_t set = {"auth", auth_module.migrations};
    if (cn_store_open(&opts, &s, &err) != 0 || cn_migrate(s, &set, 1, 0, NULL, NULL, &err) != 0)
        return -1;
    cn_store_set_batching(s, 1);
    return 0;
}

static int teardown(void **state)
{
    cn_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static auth_audit_t entry(const char *actor, const char *action)
{
    return (auth_audit_t){"t1", actor, action, "obj-1", "127.0.0.1", "req-1", 201};
}

static void test_rollback_between_appends_keeps_the_chain(void **state)
{
    cn_err_t err = {0};
    assert_int_equal(cn_store_batch_begin(s, &err), 0);
    auth_audit_t a = entry("u1", "POST /a");
    assert_int_equal(auth_audit_append(s, &a, &err), 0);
    assert_int_equal(cn_store_begin(s, &err), 0); /* a unit of work that will fail */
    auth_audit_t b = entry("u1", "POST /b");
    assert_int_equal(auth_audit_append(s, &b, &err), 0);
    cn_store_rollback(s);
    auth_audit_t c = entry("u2", "POST /c");
    assert_int_equal(auth_audit_append(s, &c, &err), 0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    int64_t n = 0;
    assert_int_equal(auth_audit_verify(s, &n, &err), 0);
    assert_int_equal(n, 2);
}

static void test_tampering_and_erasure(void **state)
{
    cn_err_t err = {0};
    assert_int_equal(cn_store_batch_begin(s, &err), 0);
    auth_audit_t d = entry("u3", "DELETE /d");
    assert_int_equal(auth_audit_append(s, &d, &err), 0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    int64_t n = 0;
    /* erasing u1's personal fields keeps the chain verifiable */
    assert_int_equal(cn_store_batch_begin(s, &err), 0);
    assert_int_equal(auth_audit_erase(s, "u1", "u1@x.example", &err), 0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(auth_audit_verify(s, &n, &err), 0);
    assert_int_equal(n, 3);
    /* an edit of a non-personal field breaks it, naming the entry */
    assert_int_equal(cn_store_batch_begin(s, &err), 0);
    assert_int_equal(
        cn_store_exec(s, "UPDATE audit_log SET status = 200 WHERE seq = 2", NULL, 0, NULL, &err),
        0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(auth_audit_verify(s, &n, &err), CN_EVALIDATION);
    assert_non_null(strstr(err.msg, "entry 2 was changed"));
}

static int64_t count_rows(void)
{
    cn_err_t err = {0};
    cn_stmt_t *st;
    assert_int_equal(cn_store_query(s, "SELECT count(*) FROM audit_log", NULL, 0, &st, &err), 0);
    assert_int_equal(cn_stmt_step(st, &err), CN_ROW);
    int64_t n = cn_stmt_int(st, 0);
    cn_stmt_finish(st);
    if (!cn_store_batch_open(s))
        assert_int_equal(cn_store_batch_commit(s, &err), 0); /* ends the read transaction */
    return n;
}

static void test_staged_entries(void **state)
{
    cn_err_t err = {0};
    cn_store_add_hook(&auth_audit_hook);
    /* a failed batch drops its staged entries */
    assert_int_equal(cn_store_batch_begin(s, &err), 0);
    auth_audit_t lost = entry("u9", "POST /lost");
    assert_int_equal(auth_audit_stage(s, &lost, &err), 0);
    cn_store_batch_fail(s);
    assert_int_not_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(count_rows(), 0);
    /* 70 staged entries (three statements) around one written at once all commit */
    assert_int_equal(cn_store_batch_begin(s, &err), 0);
    for (int i = 0; i < 70; i++) {
        auth_audit_t e = entry("u1", "POST /staged");
        assert_int_equal(auth_audit_stage(s, &e, &err), 0);
        if (i == 40) {
            auth_audit_t now = entry("u2", "auth.login.failed");
            assert_int_equal(auth_audit_append(s, &now, &err), 0);
        }
    }
    assert_int_equal(count_rows(), 1); /* only the direct one is written before the commit */
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    int64_t n = 0;
    assert_int_equal(auth_audit_verify(s, &n, &err), 0);
    assert_int_equal(n, 71);
    cn_store_clear_hooks();
}

static int fresh_store(void **state)
{
    return teardown(state) == 0 ? setup(state) : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollback_between_appends_keeps_the_chain),
        cmocka_unit_test(test_tampering_and_erasure),
        cmocka_unit_test_setup(test_staged_entries, fresh_store),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
