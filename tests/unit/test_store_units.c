/*
 * The kernel's unit of work per handler inside a loop's batch (cn_store_unit_begin/end):
 * released, its writes, events and audit entries commit with the batch; rolled back, none
 * of them do and the batch's other units still commit. Explicit units nest inside it, and
 * committing one keeps what the request wrote so far. A unit that writes nothing costs no
 * transaction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/audit.h"
#include "auth/auth.h"
#include "core/events.h"
#include "core/events_int.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];
static cn_store_t *s;
static int delivered;

static const cn_migration_t test_migrations[] = {
    {1, "create_rows", "CREATE TABLE rows (name TEXT PRIMARY KEY)"},
    {0},
};

static void count_event(const cn_event_t *ev, void *ud)
{
    (void)ev;
    (void)ud;
    delivered++;
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/cairn-units-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 1000};
    cn_err_t err = {0};
    cn_migration_set_t sets[] = {{"auth", auth_module.migrations},
                                 {"realtime", cn_events_migrations},
                                 {"test", test_migrations}};
    if (cn_store_open(&opts, &s, &err) != 0 || cn_migrate(s, sets, 3, 0, NULL, NULL, &err) != 0)
        return -1;
    cn_store_set_batching(s, 1);
    cn_store_add_hook(&cn_events_hook);
    cn_store_add_hook(&auth_audit_hook);
    cn_events_configure(100, 3600);
    cn_events_subscribe("row.", count_event, NULL);
    delivered = 0;
    return 0;
}

static int teardown(void **state)
{
    cn_store_close(s);
    cn_store_clear_hooks();
    cn_events_reset();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

/* A write, its event and its audit entry: what a handler does. */
static void write_row(const char *name)
{
    cn_err_t err = {0};
    cn_val_t a[] = {CN_VTEXT(name)};
    assert_int_equal(cn_store_exec(s, "INSERT INTO rows (name) VALUES ($1)", a, 1, NULL, &err), 0);
    assert_int_equal(cn_event_publish_text(s, "t1", "rows", "row.added", "{}", 2, &err), 0);
    auth_audit_t e = {"t1", "u1", "POST /rows", name, "127.0.0.1", "req-1", 201};
    assert_int_equal(auth_audit_stage(s, &e, &err), 0);
}

static int64_t count(const char *sql)
{
    cn_err_t err = {0};
    cn_stmt_t *st;
    assert_int_equal(cn_store_query(s, sql, NULL, 0, &st, &err), 0);
    assert_int_equal(cn_stmt_step(st, &err), CN_ROW);
    int64_t n = cn_stmt_int(st, 0);
    cn_stmt_finish(st);
    assert_int_equal(cn_store_batch_commit(s, &err), 0); /* ends the read transaction */
    return n;
}

static int has_row(const char *name)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM rows WHERE name = '%s'", name);
    return count(sql) == 1;
}

static void end_unit(int keep)
{
    cn_err_t err = {0};
    assert_int_equal(cn_store_unit_end(s, keep, &err), 0);
}

static void test_failed_unit_leaves_nothing_and_spares_its_neighbours(void **state)
{
    cn_err_t err = {0};
    cn_store_unit_begin(s);
    write_row("first");
    end_unit(1);
    cn_store_unit_begin(s); /* two writes, then the handler fails */
    write_row("second-a");
    write_row("second-b");
    assert_int_equal(cn_store_unit_depth(s), 1);
    end_unit(0);
    cn_store_unit_begin(s);
    write_row("third");
    end_unit(1);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_true(has_row("first"));
    assert_false(has_row("second-a"));
    assert_false(has_row("second-b"));
    assert_true(has_row("third"));
    assert_int_equal(delivered, 2);
    assert_int_equal(count("SELECT count(*) FROM realtime_events"), 2);
    assert_int_equal(count("SELECT max(seq) FROM realtime_events"), 2); /* numbers given back */
    assert_int_equal(count("SELECT count(*) FROM audit_log"), 2);
    int64_t n = 0;
    assert_int_equal(auth_audit_verify(s, &n, &err), 0);
    assert_int_equal(n, 2);
}

static void test_explicit_units_inside(void **state)
{
    cn_err_t err = {0};
    /* an explicit unit rolled back inside: only its own writes go */
    cn_store_unit_begin(s);
    write_row("loose-1");
    assert_int_equal(cn_store_begin(s, &err), 0);
    assert_int_equal(cn_store_unit_depth(s), 2);
    write_row("inner-1");
    cn_store_rollback(s);
    write_row("loose-2");
    end_unit(1);
    /* committing one keeps everything so far, even if the request then fails */
    cn_store_unit_begin(s);
    write_row("kept-loose");
    assert_int_equal(cn_store_begin(s, &err), 0);
    write_row("kept-inner");
    assert_int_equal(cn_store_commit(s, &err), 0);
    write_row("after-commit");
    end_unit(0);
    /* one left open by a failing handler never commits */
    cn_store_unit_begin(s);
    assert_int_equal(cn_store_begin(s, &err), 0);
    write_row("left-open");
    end_unit(1);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_true(has_row("loose-1"));
    assert_false(has_row("inner-1"));
    assert_true(has_row("loose-2"));
    assert_true(has_row("kept-loose"));
    assert_true(has_row("kept-inner"));
    assert_false(has_row("after-commit"));
    assert_false(has_row("left-open"));
    assert_int_equal(delivered, 4);
    assert_int_equal(count("SELECT count(*) FROM audit_log"), 4);
    int64_t n = 0;
    assert_int_equal(auth_audit_verify(s, &n, &err), 0);
}

static void test_unit_without_writes_opens_no_transaction(void **state)
{
    cn_store_unit_begin(s);
    assert_int_equal(count("SELECT count(*) FROM rows"), 0);
    assert_false(cn_store_batch_open(s));
    end_unit(1);
    assert_false(cn_store_batch_open(s));
    assert_int_equal(cn_store_unit_depth(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_failed_unit_leaves_nothing_and_spares_its_neighbours,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_explicit_units_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unit_without_writes_opens_no_transaction, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
