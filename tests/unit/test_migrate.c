/*
 * Unit tests for the store (src/store/store.h) on a real SQLite database in a temporary
 * directory: migrations (apply, status, re-run, dry run, failure rollback, a database
 * from a newer binary) and the store basics migrations rely on ($n binding, conflicts,
 * transactions, backup). Each test gets a fresh directory, removed afterwards.
 */
#include "store/store_int.h"

#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- fixture: a temporary data directory with an open store ---- */

typedef struct {
    char dir[64];
    cn_store_t *store;
} fixture_t;

static cn_store_t *open_store(const char *dir)
{
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 1000};
    cn_store_t *s = NULL;
    cn_err_t err = {0};
    if (cn_store_open(&opts, &s, &err) != 0)
        fail_msg("cn_store_open(%s): %s", dir, err.msg);
    return s;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    strcpy(f->dir, "/tmp/cairn-unit-store-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    f->store = open_store(f->dir);
    *state = f;
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    return remove(path);
}

static void remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    cn_store_close(f->store);
    remove_tree(f->dir);
    free(f);
    return 0;
}

/* ---- helpers ---- */

/* Runs a one-row, one-integer query with up to one text argument. */
static int64_t query_int(cn_store_t *s, const char *sql, const char *arg)
{
    cn_val_t args[1] = {arg ? CN_VTEXT(arg) : CN_VNULL};
    cn_stmt_t *st;
    cn_err_t err = {0};
    if (cn_store_query(s, sql, args, arg ? 1 : 0, &st, &err) != 0)
        fail_msg("%s: %s", sql, err.msg);
    int rc = cn_stmt_step(st, &err);
    int64_t v = rc == CN_ROW ? cn_stmt_int(st, 0) : -1;
    cn_stmt_finish(st);
    if (rc != CN_ROW)
        fail_msg("%s: no row (%d: %s)", sql, rc, err.msg);
    return v;
}

static int table_exists(cn_store_t *s, const char *name)
{
    return (int)query_int(
        s, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1", name);
}

static int64_t migration_rows(cn_store_t *s)
{
    return query_int(s, "SELECT count(*) FROM schema_migrations", NULL);
}

static void exec_ok(cn_store_t *s, const char *sql)
{
    cn_err_t err = {0};
    if (cn_store_exec(s, sql, NULL, 0, NULL, &err) != 0)
        fail_msg("%s: %s", sql, err.msg);
}

/* Collects report lines into one newline-separated string. */
typedef struct {
    char text[1024];
    int lines;
} report_t;

static void on_report(const char *line, void *ud)
{
    report_t *r = ud;
    snprintf(r->text + strlen(r->text), sizeof(r->text) - strlen(r->text), "%s\n", line);
    r->lines++;
}

static void status_is(cn_store_t *s, const cn_migration_set_t *sets, size_t n, int applied,
                      int pending)
{
    cn_migrate_status_t st = {-1, -1};
    cn_err_t err = {0};
    if (cn_migrate_status(s, sets, n, &st, &err) != 0)
        fail_msg("cn_migrate_status: %s", err.msg);
    if (st.applied != applied || st.pending != pending)
        fail_msg("status applied %d pending %d, want applied %d pending %d", st.applied, st.pending,
                 applied, pending);
}

/* ---- migrations under test ---- */

static const cn_migration_t notes_v1[] = {
    {1, "create notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL)"},
    {2, "add body",
     "ALTER TABLE notes ADD COLUMN body TEXT; CREATE INDEX notes_title ON notes (title)"},
    {0},
};

static const cn_migration_t notes_v2[] = {
    {1, "create notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL)"},
    {2, "add body",
     "ALTER TABLE notes ADD COLUMN body TEXT; CREATE INDEX notes_title ON notes (title)"},
    {3, "create links", "CREATE TABLE links (a INTEGER, b INTEGER)"},
    {0},
};

static const cn_migration_t tags_v1[] = {
    {1, "create tags", "CREATE TABLE tags (name TEXT PRIMARY KEY)"},
    {0},
};

static const cn_migration_set_t two_modules[] = {{"notes", notes_v1}, {"tags", tags_v1}};
static const cn_migration_set_t two_modules_newer[] = {{"notes", notes_v2}, {"tags", tags_v1}};

/* ---- migrations ---- */

static void test_migrate_applies_in_order_and_records(void **state)
{
    fixture_t *f = *state;
    cn_store_t *s = f->store;
    cn_err_t err = {0};
    report_t rep = {{0}, 0};

    status_is(s, two_modules, 2, 0, 3);
    assert_int_equal(cn_migrate(s, two_modules, 2, 0, on_report, &rep, &err), 0);
    assert_int_equal(rep.lines, 3);
    assert_string_equal(rep.text, "applied notes/1 create notes\n"
                                  "applied notes/2 add body\n"
                                  "applied tags/1 create tags\n");
    status_is(s, two_modules, 2, 3, 0);
    assert_true(table_exists(s, "notes"));
    assert_true(table_exists(s, "tags"));
    assert_int_equal(migration_rows(s), 3);
    assert_int_equal(
        query_int(s, "SELECT count(*) FROM schema_migrations WHERE module = $1", "notes"), 2);
    /* migration 2 ran after 1: the column it added exists */
    exec_ok(s, "INSERT INTO notes (title, body) VALUES ('t', 'b')");
    assert_false(cn_store_in_txn(s));
}

static void test_migrate_rerun_applies_nothing(void **state)
{
    fixture_t *f = *state;
    cn_store_t *s = f->store;
    cn_err_t err = {0};
    report_t rep = {{0}, 0};

    assert_int_equal(cn_migrate(s, two_modules, 2, 0, NULL, NULL, &err), 0);
    assert_int_equal(cn_migrate(s, two_modules, 2, 0, on_report, &rep, &err), 0);
    assert_int_equal(rep.lines, 0);
    assert_int_equal(migration_rows(s), 3);
    status_is(s, two_modules, 2, 3, 0);

    /* a new binary with one more migration applies only that one */
    status_is(s, two_modules_newer, 2, 3, 1);
    assert_int_equal(cn_migrate(s, two_modules_newer, 2, 0, on_report, &rep, &err), 0);
    assert_int_equal(rep.lines, 1);
    assert_string_equal(rep.text, "applied notes/3 create links\n");
    assert_true(table_exists(s, "links"));
    status_is(s, two_modules_newer, 2, 4, 0);
}

static void test_migrate_survives_reopen(void **state)
{
    fixture_t *f = *state;
    cn_err_t err = {0};
    assert_int_equal(cn_migrate(f->store, two_modules, 2, 0, NULL, NULL, &err), 0);
    cn_store_close(f->store);
    f->store = open_store(f->dir);
    status_is(f->store, two_modules, 2, 3, 0);
    assert_true(table_exists(f->store, "tags"));
}

static void test_dry_run_changes_nothing(void **state)
{
    fixture_t *f = *state;
    cn_store_t *s = f->store;
    cn_err_t err = {0};
    report_t rep = {{0}, 0};

    assert_int_equal(cn_migrate(s, two_modules, 2, 1, on_report, &rep, &err), 0);
    assert_int_equal(rep.lines, 3);
    assert_string_equal(rep.text, "would apply notes/1 create notes\n"
                                  "would apply notes/2 add body\n"
                                  "would apply tags/1 create tags\n");
    assert_false(table_exists(s, "notes"));
    assert_false(table_exists(s, "tags"));
    assert_int_equal(migration_rows(s), 0);
    status_is(s, two_modules, 2, 0, 3);
    assert_false(cn_store_in_txn(s));

    /* after a real run, a dry run of the next version reports only what is pending */
    assert_int_equal(cn_migrate(s, two_modules, 2, 0, NULL, NULL, &err), 0);
    memset(&rep, 0, sizeof(rep));
    assert_int_equal(cn_migrate(s, two_modules_newer, 2, 1, on_report, &rep, &err), 0);
    assert_string_equal(rep.text, "would apply notes/3 create links\n");
    assert_false(table_exists(s, "links"));
    status_is(s, two_modules_newer, 2, 3, 1);
}

static const cn_migration_t broken[] = {
    {1, "good", "CREATE TABLE good (x INTEGER)"},
    {2, "half done", "CREATE TABLE half (x INTEGER); INSERT INTO missing VALUES (1)"},
    {3, "never", "CREATE TABLE never (x INTEGER)"},
    {0},
};
static const cn_migration_set_t broken_set[] = {{"m", broken}};

static void test_failing_migration_rolls_back(void **state)
{
    fixture_t *f = *state;
    cn_store_t *s = f->store;
    cn_err_t err = {0};
    report_t rep = {{0}, 0};

    int rc = cn_migrate(s, broken_set, 1, 0, on_report, &rep, &err);
    assert_true(rc < 0);
    assert_int_equal(err.code, rc);
    assert_non_null(strstr(err.msg, "migration m/2 (half done) failed"));
    assert_non_null(strstr(err.msg, "missing"));
    assert_string_equal(rep.text, "applied m/1 good\n");

    /* 1 stays applied, 2 left no trace, 3 was not attempted */
    assert_true(table_exists(s, "good"));
    assert_false(table_exists(s, "half"));
    assert_false(table_exists(s, "never"));
    assert_int_equal(
        query_int(s, "SELECT count(*) FROM schema_migrations WHERE name = $1", "half done"), 0);
    status_is(s, broken_set, 1, 1, 2);

    /* the transaction and the process write lock were released */
    assert_false(cn_store_in_txn(s));
    exec_ok(s, "INSERT INTO good VALUES (1)");
    assert_int_equal(cn_store_begin(s, &err), 0);
    cn_store_rollback(s);
}

static void test_failing_dry_run_changes_nothing(void **state)
{
    fixture_t *f = *state;
    cn_store_t *s = f->store;
    cn_err_t err = {0};

    assert_true(cn_migrate(s, broken_set, 1, 1, NULL, NULL, &err) < 0);
    assert_non_null(strstr(err.msg, "m/2"));
    assert_false(table_exists(s, "good"));
    assert_false(table_exists(s, "half"));
    assert_int_equal(migration_rows(s), 0);
    assert_false(cn_store_in_txn(s));
    exec_ok(s, "CREATE TABLE after_dry_run (x INTEGER)");
}

static void test_unknown_migration_is_too_new(void **state)
{
    fixture_t *f = *state;
    cn_store_t *s = f->store;
    cn_err_t err = {0};
    cn_migrate_status_t st;

    assert_int_equal(cn_migrate(s, two_modules, 2, 0, NULL, NULL, &err), 0);
    /* a newer binary recorded notes/3 */
    exec_ok(s, "INSERT INTO schema_migrations (module, version, name, applied_at)"
               " VALUES ('notes', 3, 'from the future', 0)");

    assert_int_equal(cn_migrate_status(s, two_modules, 2, &st, &err), CN_ETOONEW);
    assert_int_equal(err.code, CN_ETOONEW);
    assert_non_null(strstr(err.msg, "notes/3"));
    assert_non_null(strstr(err.msg, "from the future"));

    memset(&err, 0, sizeof(err));
    report_t rep = {{0}, 0};
    assert_int_equal(cn_migrate(s, two_modules, 2, 0, on_report, &rep, &err), CN_ETOONEW);
    assert_int_equal(rep.lines, 0);
    assert_int_equal(cn_migrate(s, two_modules, 2, 1, on_report, &rep, &err), CN_ETOONEW);
    assert_int_equal(rep.lines, 0);
    assert_false(cn_store_in_txn(s));

    /* the binary that knows notes/3 is content */
    static const cn_migration_t notes_v3[] = {
        {1, "create notes", "SELECT 1"},
        {2, "add body", "SELECT 1"},
        {3, "from the future", "SELECT 1"},
        {0},
    };
    const cn_migration_set_t sets[] = {{"notes", notes_v3}, {"tags", tags_v1}};
    status_is(s, sets, 2, 4, 0);
}

static void test_unknown_module_is_too_new(void **state)
{
    fixture_t *f = *state;
    cn_store_t *s = f->store;
    cn_err_t err = {0};
    cn_migrate_status_t st;

    status_is(s, two_modules, 2, 0, 3);
    assert_false(table_exists(s, "schema_migrations")); /* a status check writes nothing */
    exec_ok(s, cn_migrations_table_sql);
    exec_ok(s, "INSERT INTO schema_migrations (module, version, name, applied_at)"
               " VALUES ('ghost', 1, 'haunt', 0)");
    assert_int_equal(cn_migrate_status(s, two_modules, 2, &st, &err), CN_ETOONEW);
    assert_non_null(strstr(err.msg, "ghost/1"));
    /* nothing pending was applied while refusing */
    assert_int_equal(cn_migrate(s, two_modules, 2, 0, NULL, NULL, &err), CN_ETOONEW);
    assert_false(table_exists(s, "notes"));
    assert_int_equal(migration_rows(s), 1);
}

/* ---- store basics ---- */

static void test_open_creates_database(void **state)
{
    fixture_t *f = *state;
    char path[128];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/cairn.db", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_string_equal(cn_store_driver(f->store), "sqlite");
    assert_int_equal(cn_store_ping(f->store, NULL), 0);

    /* a data directory that does not exist yet is created */
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/nested", f->dir);
    cn_store_t *s2 = open_store(sub);
    assert_int_equal(cn_store_ping(s2, NULL), 0);
    cn_store_close(s2);

    /* one that cannot be created is an error */
    cn_store_opts_t opts = {.data_dir = "/nonexistent/cairn/data"};
    cn_store_t *bad = NULL;
    cn_err_t err = {0};
    assert_int_equal(cn_store_open(&opts, &bad, &err), CN_ERR);
    assert_null(bad);
    assert_non_null(strstr(err.msg, "/nonexistent/cairn/data"));
}

static void test_bind_in_any_order(void **state)
{
    fixture_t *f = *state;
    cn_store_t *s = f->store;
    cn_err_t err = {0};
    int64_t changes = -1;

    exec_ok(s, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, note TEXT)");
    cn_val_t ins[] = {CN_VINT(1), CN_VTEXT("one"), CN_VREAL(1.5), CN_VNULL};
    assert_int_equal(cn_store_exec(s,
                                   "INSERT INTO t (note, score, name, id)"
                                   " VALUES ($4, $3, $2, $1)",
                                   ins, 4, &changes, &err),
                     0);
    assert_int_equal(changes, 1);

    cn_val_t where[] = {CN_VINT(1), CN_VTEXTN("one-and-more", 3)};
    cn_stmt_t *st;
    assert_int_equal(cn_store_query(s,
                                    "SELECT id, name, score, note FROM t"
                                    " WHERE name = $2 AND id = $1",
                                    where, 2, &st, &err),
                     0);
    assert_int_equal(cn_stmt_step(st, &err), CN_ROW);
    assert_int_equal(cn_stmt_int(st, 0), 1);
    size_t len = 0;
    assert_string_equal(cn_stmt_text(st, 1, &len), "one");
    assert_int_equal(len, 3);
    assert_float_equal(cn_stmt_real(st, 2), 1.5, 1e-12);
    assert_true(cn_stmt_is_null(st, 3));
    assert_null(cn_stmt_text(st, 3, &len));
    assert_int_equal(len, 0);
    assert_false(cn_stmt_is_null(st, 1));
    assert_int_equal(cn_stmt_step(st, &err), CN_DONE);
    cn_stmt_finish(st);

    /* $2 before $1 in the text, and a parameter used twice */
    cn_val_t ab[] = {CN_VTEXT("a"), CN_VTEXT("b")};
    assert_int_equal(cn_store_query(s, "SELECT $2 || '-' || $1 || '-' || $2", ab, 2, &st, &err), 0);
    assert_int_equal(cn_stmt_step(st, &err), CN_ROW);
    assert_string_equal(cn_stmt_text(st, 0, NULL), "b-a-b");
    cn_stmt_finish(st);

    /* the cached statement is reused with new values */
    cn_val_t xy[] = {CN_VTEXT("x"), CN_VTEXT("y")};
    assert_int_equal(cn_store_query(s, "SELECT $2 || '-' || $1 || '-' || $2", xy, 2, &st, &err), 0);
    assert_int_equal(cn_stmt_step(st, &err), CN_ROW);
    assert_string_equal(cn_stmt_text(st, 0, NULL), "y-x-y");
    cn_stmt_finish(st);
}

static void test_bind_errors(void **state)
{
    fixture_t *f = *state;
    cn_store_t *s = f->store;
    cn_err_t err = {0};
    cn_stmt_t *st = NULL;

    cn_val_t one[] = {CN_VINT(1)};
    assert_int_equal(cn_store_query(s, "SELECT $1, $2", one, 1, &st, &err), CN_ERR);
    assert_non_null(strstr(err.msg, "wants 2 parameters, got 1"));
    /* only $1..$n belong to the shared dialect */
    assert_int_equal(cn_store_query(s, "SELECT :name", one, 1, &st, &err), CN_ERR);
    assert_int_equal(cn_store_query(s, "SELECT ?", one, 1, &st, &err), CN_ERR);
    assert_int_equal(cn_store_query(s, "SELECT $1, $3", one, 1, &st, &err), CN_ERR);
    assert_int_equal(cn_store_query(s, "SELEKT 1", NULL, 0, &st, &err), CN_ERR);
    /* and a failed bind on a writing statement did not keep the write lock */
    exec_ok(s, "CREATE TABLE w (x INTEGER)");
    assert_int_equal(cn_store_exec(s, "INSERT INTO w VALUES ($1)", NULL, 0, NULL, &err), CN_ERR);
    exec_ok(s, "INSERT INTO w VALUES (1)");
}

static void test_primary_key_violation_is_conflict(void **state)
{
    fixture_t *f = *state;
    cn_store_t *s = f->store;
    cn_err_t err = {0};

    exec_ok(s, "CREATE TABLE k (id INTEGER PRIMARY KEY, code TEXT UNIQUE)");
    exec_ok(s, "CREATE TABLE n (name TEXT PRIMARY KEY)");

    cn_val_t a[] = {CN_VINT(7), CN_VTEXT("a")};
    assert_int_equal(cn_store_exec(s, "INSERT INTO k VALUES ($1, $2)", a, 2, NULL, &err), 0);
    cn_val_t same_id[] = {CN_VINT(7), CN_VTEXT("b")};
    assert_int_equal(cn_store_exec(s, "INSERT INTO k VALUES ($1, $2)", same_id, 2, NULL, &err),
                     CN_ECONFLICT);
    assert_int_equal(err.code, CN_ECONFLICT);

    /* a UNIQUE column and a non-rowid primary key are conflicts too */
    cn_val_t same_code[] = {CN_VINT(8), CN_VTEXT("a")};
    assert_int_equal(cn_store_exec(s, "INSERT INTO k VALUES ($1, $2)", same_code, 2, NULL, &err),
                     CN_ECONFLICT);
    exec_ok(s, "INSERT INTO n VALUES ('x')");
    assert_int_equal(cn_store_exec(s, "INSERT INTO n VALUES ('x')", NULL, 0, NULL, &err),
                     CN_ECONFLICT);

    assert_int_equal(query_int(s, "SELECT count(*) FROM k", NULL), 1);
    /* the failed statement released the write lock */
    exec_ok(s, "INSERT INTO k VALUES (9, 'z')");
}

static void test_transactions(void **state)
{
    fixture_t *f = *state;
    cn_store_t *s = f->store;
    cn_err_t err = {0};
    exec_ok(s, "CREATE TABLE t (x INTEGER)");

    assert_false(cn_store_in_txn(s));
    assert_int_equal(cn_store_begin(s, &err), 0);
    assert_true(cn_store_in_txn(s));
    exec_ok(s, "INSERT INTO t VALUES (1)");
    exec_ok(s, "INSERT INTO t VALUES (2)");
    assert_int_equal(query_int(s, "SELECT count(*) FROM t", NULL), 2);
    cn_store_rollback(s);
    assert_false(cn_store_in_txn(s));
    assert_int_equal(query_int(s, "SELECT count(*) FROM t", NULL), 0);

    /* committed rows are visible to another connection; uncommitted ones are not */
    cn_store_t *other = open_store(f->dir);
    assert_int_equal(cn_store_begin(s, &err), 0);
    exec_ok(s, "INSERT INTO t VALUES (3)");
    assert_int_equal(query_int(other, "SELECT count(*) FROM t", NULL), 0);
    assert_int_equal(cn_store_commit(s, &err), 0);
    assert_false(cn_store_in_txn(s));
    assert_int_equal(query_int(other, "SELECT count(*) FROM t", NULL), 1);
    assert_int_equal(query_int(s, "SELECT x FROM t", NULL), 3);
    cn_store_close(other);

    /* nested begin is refused without deadlocking, and the outer transaction survives */
    assert_int_equal(cn_store_begin(s, &err), 0);
    assert_int_equal(cn_store_begin(s, &err), CN_ERR);
    assert_true(cn_store_in_txn(s));
    exec_ok(s, "INSERT INTO t VALUES (4)");
    assert_int_equal(cn_store_commit(s, &err), 0);
    assert_int_equal(query_int(s, "SELECT count(*) FROM t", NULL), 2);

    /* rollback outside a transaction is harmless */
    cn_store_rollback(s);
    assert_false(cn_store_in_txn(s));
}

static void test_backup(void **state)
{
    fixture_t *f = *state;
    cn_store_t *s = f->store;
    cn_err_t err = {0};
    exec_ok(s, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)");
    exec_ok(s, "INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')");

    char dir[128], path[160];
    snprintf(dir, sizeof(dir), "%s/backup", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/cairn.db", dir);
    assert_int_equal(cn_store_backup(s, path, 0, &err), 0);

    /* rows written after the backup are not in it */
    exec_ok(s, "INSERT INTO t VALUES (4, 'four')");

    /* the temporary file was renamed away: the directory holds only the backup */
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n_entries = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            assert_string_equal(e->d_name, "cairn.db");
            n_entries++;
        }
    closedir(d);
    assert_int_equal(n_entries, 1);

    cn_store_t *copy = open_store(dir);
    assert_int_equal(query_int(copy, "SELECT count(*) FROM t", NULL), 3);
    assert_int_equal(query_int(copy, "SELECT id FROM t WHERE name = $1", "three"), 3);
    cn_store_close(copy);

    /* an unwritable destination is an error, not a crash */
    assert_int_equal(cn_store_backup(s, "/nonexistent/dir/cairn.db", 0, &err), CN_ERR);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/cairn.db"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_migrate_applies_in_order_and_records),
        T(test_migrate_rerun_applies_nothing),
        T(test_migrate_survives_reopen),
        T(test_dry_run_changes_nothing),
        T(test_failing_migration_rolls_back),
        T(test_failing_dry_run_changes_nothing),
        T(test_unknown_migration_is_too_new),
        T(test_unknown_module_is_too_new),
        T(test_open_creates_database),
        T(test_bind_in_any_order),
        T(test_bind_errors),
        T(test_primary_key_violation_is_conflict),
        T(test_transactions),
        T(test_backup),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
