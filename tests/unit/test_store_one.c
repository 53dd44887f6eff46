/*
 * Single-row reads (cn_store_one_int, cn_store_one_text, cn_store_exists): a row found, no
 * row (CN_ENOTFOUND, output untouched), an error from preparing or from stepping (the
 * negative code with a message), text that does not fit, and the statement always
 * finished (the same SQL runs again, and a write is not held up by it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];
static cn_store_t *s;

static const cn_migration_t test_migrations[] = {
    {1, "create_t",
     "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER);"
     "INSERT INTO t VALUES (1, 'alpha', 42), (2, NULL, NULL)"},
    {0},
};

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/cairn-one-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 1000};
    cn_err_t err = {0};
    cn_migration_set_t sets[] = {{"test", test_migrations}};
    if (cn_store_open(&opts, &s, &err) != 0 || cn_migrate(s, sets, 1, 0, NULL, NULL, &err) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    cn_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static const char *const int_sql = "SELECT n FROM t WHERE id = $1";
static const char *const text_sql = "SELECT name FROM t WHERE id = $1";

static void test_one_int(void **state)
{
    cn_err_t err = {0};
    int64_t v = -1;
    cn_val_t one[] = {CN_VINT(1)}, two[] = {CN_VINT(2)}, none[] = {CN_VINT(3)};
    assert_int_equal(cn_store_one_int(s, int_sql, one, 1, &v, &err), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cn_store_one_int(s, int_sql, two, 1, &v, &err), 0);
    assert_int_equal(v, 0); /* SQL NULL */
    v = -1;
    assert_int_equal(cn_store_one_int(s, int_sql, none, 1, &v, &err), CN_ENOTFOUND);
    assert_int_equal(v, -1);
    assert_string_equal(err.msg, ""); /* not an error: the caller says what is missing */
    assert_int_equal(cn_store_one_int(s, "SELECT count(*) FROM t", NULL, 0, &v, &err), 0);
    assert_int_equal(v, 2);
}

static void test_one_text(void **state)
{
    cn_err_t err = {0};
    char buf[16] = "untouched";
    cn_val_t one[] = {CN_VINT(1)}, two[] = {CN_VINT(2)}, none[] = {CN_VINT(3)};
    assert_int_equal(cn_store_one_text(s, text_sql, one, 1, buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "alpha");
    assert_int_equal(cn_store_one_text(s, text_sql, two, 1, buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, ""); /* SQL NULL */
    strcpy(buf, "untouched");
    assert_int_equal(cn_store_one_text(s, text_sql, none, 1, buf, sizeof(buf), &err), CN_ENOTFOUND);
    assert_string_equal(buf, "untouched");
    /* text bound as the store binds it, and exactly the room it needs */
    cn_val_t name[] = {CN_VTEXT("alpha")};
    char exact[6];
    assert_int_equal(
        cn_store_one_text(s, "SELECT name FROM t WHERE name = $1", name, 1, exact, 6, &err), 0);
    assert_string_equal(exact, "alpha");
}

static void test_one_text_too_long_is_an_error(void **state)
{
    cn_err_t err = {0};
    char small[5] = "xxxx";
    cn_val_t one[] = {CN_VINT(1)};
    assert_int_equal(cn_store_one_text(s, text_sql, one, 1, small, sizeof(small), &err), CN_ERR);
    assert_non_null(strstr(err.msg, "does not fit"));
    /* the statement was finished: the same SQL runs again */
    char buf[8];
    assert_int_equal(cn_store_one_text(s, text_sql, one, 1, buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "alpha");
}

static void test_exists(void **state)
{
    cn_err_t err = {0};
    cn_val_t one[] = {CN_VINT(1)}, none[] = {CN_VINT(3)};
    assert_int_equal(cn_store_exists(s, "SELECT 1 FROM t WHERE id = $1", one, 1, &err), 0);
    assert_int_equal(cn_store_exists(s, "SELECT 1 FROM t WHERE id = $1", none, 1, &err),
                     CN_ENOTFOUND);
    assert_int_equal(cn_store_exists(s, "SELECT 1 FROM t WHERE id = $1", none, 1, &err),
                     CN_ENOTFOUND);
}

static void test_errors(void **state)
{
    int64_t v = -1;
    char buf[8] = "x";
    cn_err_t err = {0};
    /* preparing fails */
    int rc = cn_store_one_int(s, "SELECT n FROM missing", NULL, 0, &v, &err);
    assert_true(rc < 0 && rc != CN_ENOTFOUND);
    assert_int_not_equal(err.msg[0], '\0');
    assert_int_equal(v, -1);
    memset(&err, 0, sizeof(err));
    rc = cn_store_one_text(s, "SELECT name FROM missing", NULL, 0, buf, sizeof(buf), &err);
    assert_true(rc < 0 && rc != CN_ENOTFOUND);
    assert_int_not_equal(err.msg[0], '\0');
    assert_string_equal(buf, "x");
    memset(&err, 0, sizeof(err));
    rc = cn_store_exists(s, "SELECT 1 FROM missing", NULL, 0, &err);
    assert_true(rc < 0 && rc != CN_ENOTFOUND);
    assert_int_not_equal(err.msg[0], '\0');
    /* stepping fails (integer overflow at run time): reported, and the statement finished */
    static const char *const overflow = "SELECT abs(-9223372036854775807 - 1)";
    for (int i = 0; i < 2; i++) {
        memset(&err, 0, sizeof(err));
        rc = cn_store_one_int(s, overflow, NULL, 0, &v, &err);
        assert_true(rc < 0 && rc != CN_ENOTFOUND);
        assert_int_not_equal(err.msg[0], '\0');
    }
    /* nothing is left open: a write on the same connection goes through */
    int64_t changes = 0;
    assert_int_equal(cn_store_exec(s, "UPDATE t SET n = 7 WHERE id = 2", NULL, 0, &changes, &err),
                     0);
    assert_int_equal(changes, 1);
    cn_val_t two[] = {CN_VINT(2)};
    assert_int_equal(cn_store_one_int(s, int_sql, two, 1, &v, &err), 0);
    assert_int_equal(v, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_int, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_text_too_long_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
