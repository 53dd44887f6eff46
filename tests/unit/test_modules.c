/*
 * The one list of modules (cn_modules_list) that start-up and the CLI's migration
 * commands both use: the system module first, then the app table in order; more modules
 * than CN_MODULES_MAX are refused with a message naming the first one left over, never
 * dropped silently. The migration sets follow the list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/system.h"
#include "store/store_int.h"

#include <stdio.h>
#include <string.h>

static const cn_migration_t some_migrations[] = {{1, "one", "SELECT 1"}, {0}};

static cn_app_t apps[CN_MODULES_MAX + 1];
static char names[CN_MODULES_MAX + 1][32];
static const cn_app_t *table[CN_MODULES_MAX + 2];

/* An app table of n apps named app0.., the even ones with migrations; NULL-terminated. */
static void make_table(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "app%zu", i);
        apps[i] = (cn_app_t){.name = names[i], .migrations = i % 2 ? NULL : some_migrations};
        table[i] = &apps[i];
    }
    table[n] = NULL;
}

static void test_system_first_then_apps(void **state)
{
    const cn_app_t *list[CN_MODULES_MAX + 1];
    cn_err_t err = {0};
    make_table(3);
    assert_int_equal(cn_modules_list(table, list, &err), 0);
    assert_ptr_equal(list[0], &cn_system_app);
    assert_ptr_equal(list[1], &apps[0]);
    assert_ptr_equal(list[3], &apps[2]);
    assert_null(list[4]);
    cn_migration_set_t sets[CN_MODULES_MAX];
    assert_int_equal(cn_migration_sets(list, sets), 2); /* app0 and app2 */
    assert_string_equal(sets[0].module, "app0");
    assert_string_equal(sets[1].module, "app2");
}

static void test_full_table_fits(void **state)
{
    const cn_app_t *list[CN_MODULES_MAX + 1];
    cn_err_t err = {0};
    make_table(CN_MODULES_MAX - 1);
    assert_int_equal(cn_modules_list(table, list, &err), 0);
    assert_ptr_equal(list[CN_MODULES_MAX - 1], &apps[CN_MODULES_MAX - 2]);
    assert_null(list[CN_MODULES_MAX]);
}

static void test_too_many_modules_are_refused(void **state)
{
    const cn_app_t *list[CN_MODULES_MAX + 1];
    cn_err_t err = {0};
    make_table(CN_MODULES_MAX);
    assert_int_equal(cn_modules_list(table, list, &err), CN_EINVAL);
    char expect[32];
    snprintf(expect, sizeof(expect), "module app%d", CN_MODULES_MAX - 1);
    assert_non_null(strstr(err.msg, expect));
    assert_null(list[0]); /* nothing half-built is left to use */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_system_first_then_apps),
        cmocka_unit_test(test_full_table_fits),
        cmocka_unit_test(test_too_many_modules_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
