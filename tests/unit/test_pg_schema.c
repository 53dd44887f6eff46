/*
 * The two texts of every module's migrations (cn_migration_t: sql, and pg when PostgreSQL
 * runs something else) build the same schema: every migration of the module table, in
 * the kernel's order, applied to a fresh PostgreSQL database (ctest's pg fixture, see
 * test_pg.c) and migrated into a fresh SQLite store by cn_migrate, then compared table by
 * table: the same tables, the same columns, compatible types and the same nullability, and
 * the same named indexes (unique or not). What differs on purpose is listed below, each
 * with its reason (`differences`, `pg_only_index`); SQLite's own tables and FTS5's shadow
 * tables are not compared.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "apps/apps.h"
#include "core/system.h"
#include "pg_db.h"
#include "store/pg_int.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLS_MAX 1024
#define NAME_LEN 64

/* One column of one table, as an engine describes it. */
typedef struct {
    char table[NAME_LEN], column[NAME_LEN], type[NAME_LEN];
    int notnull;
} col_t;

typedef struct {
    col_t v[COLS_MAX];
    size_t n;
} schema_t;

/*
 * The intended differences: a column only one engine has (type NULL on the other side),
 * or one whose types are not the usual pair; nullability is not compared for these.
 */
static const struct {
    const char *table, *column, *sqlite_type, *pg_type;
} differences[] = {
    /* the search index: FTS5's rowid is the interaction's seq, a column on PostgreSQL */
    {"interactions_fts", "seq", NULL, "bigint"},
    /* PostgreSQL's index is a tsvector column (GIN), FTS5's is in its shadow tables */
    {"interactions_fts", "doc", NULL, "tsvector"},
    /* FTS5 columns have no declared type (and no constraints) */
    {"interactions_fts", "body", "", "text"},
    {"interactions_fts", "tenant_id", "", "text"},
};

#define N_DIFFERENCES (sizeof(differences) / sizeof(differences[0]))
static int difference_seen[N_DIFFERENCES];

static pg_db_t db;
static char dir[64];
static cn_pg_t *c;
static cn_store_t *s;
static schema_t lite, pg;

static int setup(void **state)
{
    (void)state;
    /* bytewise collation, as a Cairn database must be (keyset cursors compare like SQLite) */
    pg_db_create(&db, "cairn_test_pg_schema", "LC_COLLATE 'C' LC_CTYPE 'C'");
    cn_err_t err = {0};
    pg_must(cn_pg_connect(db.url, &c, &err), &err, "connect");
    snprintf(dir, sizeof(dir), "/tmp/cairn-pg-schema-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 1000};
    pg_must(cn_store_open(&opts, &s, &err), &err, "open the SQLite store");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cn_store_close(s);
    cn_pg_close(c);
    pg_db_drop(&db);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

/* Every module's migration sets, in the order the kernel applies them. */
static size_t module_sets(cn_migration_set_t *sets)
{
    const cn_app_t *modules[CN_MODULES_MAX + 1];
    cn_err_t err = {0};
    pg_must(cn_modules_list(cn_apps, modules, &err), &err, "module list");
    size_t n = cn_migration_sets(modules, sets);
    assert_true(n >= 5); /* auth, jobs, realtime, notes, insights at least */
    return n;
}

/* What cn_migrate does, with the PostgreSQL texts: each version applied and recorded. */
static void migrate_pg(const cn_migration_set_t *sets, size_t n_sets)
{
    cn_err_t err = {0};
    pg_must(cn_pg_script(c, cn_migrations_table_sql, &err), &err, "schema_migrations");
    for (size_t i = 0; i < n_sets; i++)
        for (const cn_migration_t *m = sets[i].list; m->version != 0; m++) {
            const char *sql = cn_migration_pg(m);
            if (*sql != '\0' && cn_pg_script(c, sql, &err) != 0)
                fail_msg("PostgreSQL text of %s/%d (%s): %s", sets[i].module, m->version, m->name,
                         err.msg);
            cn_val_t a[] = {CN_VTEXT(sets[i].module), CN_VINT(m->version), CN_VTEXT(m->name),
                            CN_VINT(cn_now_ms())};
            pg_must(cn_pg_run(c,
                              "INSERT INTO schema_migrations (module, version, name, applied_at)"
                              " VALUES ($1, $2, $3, $4)",
                              a, 4, NULL, NULL, &err),
                    &err, "record a migration");
        }
}

static void add_col(schema_t *sc, const char *table, const char *column, const char *type,
                    int notnull)
{
    assert_true(sc->n < COLS_MAX);
    col_t *k = &sc->v[sc->n++];
    snprintf(k->table, sizeof(k->table), "%s", table);
    snprintf(k->column, sizeof(k->column), "%s", column);
    snprintf(k->type, sizeof(k->type), "%s", type ? type : "");
    k->notnull = notnull;
}

static int col_cmp(const void *a, const void *b)
{
    const col_t *x = a, *y = b;
    int d = strcmp(x->table, y->table);
    return d != 0 ? d : strcmp(x->column, y->column);
}

/* SQLite's tables and virtual tables, without its own (sqlite_%) nor FTS5's shadow tables;
 * a primary key column is NOT NULL as it is on PostgreSQL (SQLite's flag says only what
 * was declared) */
static void read_sqlite(schema_t *sc)
{
    cn_err_t err = {0};
    cn_stmt_t *st;
    pg_must(cn_store_query(s,
                           "SELECT t.name, c.name, c.type, c.\"notnull\" OR c.pk > 0"
                           " FROM pragma_table_list AS t, pragma_table_info(t.name) AS c"
                           " WHERE t.schema = 'main' AND t.type IN ('table', 'virtual')"
                           " AND t.name NOT LIKE 'sqlite%'",
                           NULL, 0, &st, &err),
            &err, "read SQLite's schema");
    int rc;
    while ((rc = cn_stmt_step(st, &err)) == CN_ROW)
        add_col(sc, cn_stmt_text(st, 0, NULL), cn_stmt_text(st, 1, NULL), cn_stmt_text(st, 2, NULL),
                (int)cn_stmt_int(st, 3));
    cn_stmt_finish(st);
    assert_int_equal(rc, CN_DONE);
    qsort(sc->v, sc->n, sizeof(sc->v[0]), col_cmp);
}

static void read_pg(schema_t *sc)
{
    cn_err_t err = {0};
    cn_pg_rows_t r;
    pg_must(cn_pg_run(c,
                      "SELECT c.table_name, c.column_name, c.data_type, c.is_nullable = 'NO'"
                      " FROM information_schema.columns c JOIN information_schema.tables t"
                      " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
                      " WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'",
                      NULL, 0, &r, NULL, &err),
            &err, "read PostgreSQL's schema");
    while (cn_pg_next(&r) == CN_ROW)
        add_col(sc, cn_pg_text(&r, 0, NULL), cn_pg_text(&r, 1, NULL), cn_pg_text(&r, 2, NULL),
                (int)cn_pg_int(&r, 3));
    cn_pg_rows_clear(&r);
    qsort(sc->v, sc->n, sizeof(sc->v[0]), col_cmp);
}

/* SQLite's declared type against PostgreSQL's data_type, by SQLite's affinity rules */
static int compatible(const char *lite_type, const char *pg_type)
{
    char up[NAME_LEN];
    size_t i = 0;
    for (; lite_type[i] && i + 1 < sizeof(up); i++)
        up[i] =
            (char)(lite_type[i] >= 'a' && lite_type[i] <= 'z' ? lite_type[i] - 32 : lite_type[i]);
    up[i] = '\0';
    if (strstr(up, "INT"))
        return strcmp(pg_type, "bigint") == 0 || strcmp(pg_type, "integer") == 0;
    if (strstr(up, "TEXT"))
        return strcmp(pg_type, "text") == 0;
    if (strstr(up, "BLOB"))
        return strcmp(pg_type, "bytea") == 0;
    if (strstr(up, "REAL") || strstr(up, "DOUB"))
        return strcmp(pg_type, "double precision") == 0;
    return 0;
}

static int find_difference(const char *table, const char *column)
{
    for (size_t i = 0; i < N_DIFFERENCES; i++)
        if (strcmp(differences[i].table, table) == 0 && strcmp(differences[i].column, column) == 0)
            return (int)i;
    return -1;
}

static int has_table(const schema_t *sc, const char *table)
{
    for (size_t i = 0; i < sc->n; i++)
        if (strcmp(sc->v[i].table, table) == 0)
            return 1;
    return 0;
}

/* Tables of `a` that `b` lacks; each printed once. */
static int missing_tables(const schema_t *a, const char *a_name, const schema_t *b)
{
    int problems = 0;
    for (size_t i = 0; i < a->n; i++) {
        if ((i > 0 && strcmp(a->v[i].table, a->v[i - 1].table) == 0) || has_table(b, a->v[i].table))
            continue;
        print_message("table %s: only on %s\n", a->v[i].table, a_name);
        problems++;
    }
    return problems;
}

/* One column present on one side only (other NULL), or on both. */
static int compare_column(const col_t *l, const col_t *p)
{
    const col_t *k = l ? l : p;
    int d = find_difference(k->table, k->column);
    if (d >= 0) {
        difference_seen[d] = 1;
        const char *lt = differences[d].sqlite_type, *pt = differences[d].pg_type;
        if ((lt == NULL) != (l == NULL) || (pt == NULL) != (p == NULL) ||
            (l && strcmp(l->type, lt) != 0) || (p && strcmp(p->type, pt) != 0)) {
            print_message("%s.%s: not the difference the test lists (SQLite %s, PostgreSQL %s)\n",
                          k->table, k->column, l ? l->type : "-", p ? p->type : "-");
            return 1;
        }
        return 0;
    }
    if (l == NULL || p == NULL) {
        print_message("%s.%s: only on %s\n", k->table, k->column, l ? "SQLite" : "PostgreSQL");
        return 1;
    }
    if (!compatible(l->type, p->type)) {
        print_message("%s.%s: SQLite %s, PostgreSQL %s\n", k->table, k->column, l->type, p->type);
        return 1;
    }
    if (l->notnull != p->notnull) {
        print_message("%s.%s: %s on SQLite, %s on PostgreSQL\n", k->table, k->column,
                      l->notnull ? "NOT NULL" : "nullable", p->notnull ? "NOT NULL" : "nullable");
        return 1;
    }
    return 0;
}

/* Walks both sorted column lists together, over the tables both engines have; a listed
 * difference neither side shows any more is one too (the list must not go stale). */
static int compare_columns(void)
{
    int problems = 0;
    memset(difference_seen, 0, sizeof(difference_seen));
    size_t i = 0, j = 0;
    while (i < lite.n || j < pg.n) {
        int d = i == lite.n ? 1 : j == pg.n ? -1 : col_cmp(&lite.v[i], &pg.v[j]);
        const col_t *l = d <= 0 ? &lite.v[i++] : NULL;
        const col_t *p = d >= 0 ? &pg.v[j++] : NULL;
        if (has_table(&lite, (l ? l : p)->table) && has_table(&pg, (l ? l : p)->table))
            problems += compare_column(l, p);
    }
    for (size_t d = 0; d < N_DIFFERENCES; d++)
        if (!difference_seen[d]) {
            print_message("%s.%s: listed as a difference, on neither engine\n",
                          differences[d].table, differences[d].column);
            problems++;
        }
    return problems;
}

static int64_t count_migrations_sqlite(void)
{
    cn_err_t err = {0};
    int64_t n = -1;
    pg_must(cn_store_one_int(s, "SELECT count(*) FROM schema_migrations", NULL, 0, &n, &err), &err,
            "count SQLite's migrations");
    return n;
}

static int64_t count_migrations_pg(void)
{
    cn_err_t err = {0};
    cn_pg_rows_t r;
    pg_must(cn_pg_run(c, "SELECT count(*) FROM schema_migrations", NULL, 0, &r, NULL, &err), &err,
            "count PostgreSQL's migrations");
    assert_int_equal(cn_pg_next(&r), CN_ROW);
    int64_t n = cn_pg_int(&r, 0);
    cn_pg_rows_clear(&r);
    return n;
}

/* The indexes a migration creates by name (not those of a key or a UNIQUE column, which
 * each engine names its own way), as (table, index, "unique" or ""). */
static void read_sqlite_indexes(schema_t *sc)
{
    cn_err_t err = {0};
    cn_stmt_t *st;
    pg_must(cn_store_query(s,
                           "SELECT tbl_name, name, sql LIKE 'CREATE UNIQUE %' FROM sqlite_master"
                           " WHERE type = 'index' AND sql IS NOT NULL",
                           NULL, 0, &st, &err),
            &err, "read SQLite's indexes");
    int rc;
    while ((rc = cn_stmt_step(st, &err)) == CN_ROW)
        add_col(sc, cn_stmt_text(st, 0, NULL), cn_stmt_text(st, 1, NULL),
                cn_stmt_int(st, 2) ? "unique" : "", 0);
    cn_stmt_finish(st);
    assert_int_equal(rc, CN_DONE);
    qsort(sc->v, sc->n, sizeof(sc->v[0]), col_cmp);
}

static void read_pg_indexes(schema_t *sc)
{
    cn_err_t err = {0};
    cn_pg_rows_t r;
    pg_must(
        cn_pg_run(c,
                  "SELECT t.relname, x.relname, i.indisunique FROM pg_index i"
                  " JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid"
                  " JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = 'public'"
                  " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
                  NULL, 0, &r, NULL, &err),
        &err, "read PostgreSQL's indexes");
    while (cn_pg_next(&r) == CN_ROW)
        add_col(sc, cn_pg_text(&r, 0, NULL), cn_pg_text(&r, 1, NULL),
                cn_pg_int(&r, 2) ? "unique" : "", 0);
    cn_pg_rows_clear(&r);
    qsort(sc->v, sc->n, sizeof(sc->v[0]), col_cmp);
}

/* the one index only PostgreSQL has: the search's GIN index (FTS5's is its shadow tables) */
static const char pg_only_index[] = "interactions_fts_doc";

static int compare_indexes(void)
{
    static schema_t li, pi;
    li.n = pi.n = 0;
    read_sqlite_indexes(&li);
    read_pg_indexes(&pi);
    int problems = 0, seen = 0;
    size_t i = 0, j = 0;
    while (i < li.n || j < pi.n) {
        int d = i == li.n ? 1 : j == pi.n ? -1 : col_cmp(&li.v[i], &pi.v[j]);
        const col_t *l = d <= 0 ? &li.v[i++] : NULL;
        const col_t *p = d >= 0 ? &pi.v[j++] : NULL;
        if (l == NULL && strcmp(p->column, pg_only_index) == 0) {
            seen = 1;
        } else if (l == NULL || p == NULL) {
            const col_t *k = l ? l : p;
            print_message("index %s on %s: only on %s\n", k->column, k->table,
                          l ? "SQLite" : "PostgreSQL");
            problems++;
        } else if (strcmp(l->type, p->type) != 0) {
            print_message("index %s: unique on one engine only\n", l->column);
            problems++;
        }
    }
    if (!seen)
        print_message("index %s: missing on PostgreSQL\n", pg_only_index);
    return problems + !seen;
}

/* Reads both schemas again and counts their differences (each printed). */
static int schema_problems(void)
{
    lite.n = pg.n = 0;
    read_sqlite(&lite);
    read_pg(&pg);
    return missing_tables(&lite, "SQLite", &pg) + missing_tables(&pg, "PostgreSQL", &lite) +
           compare_columns() + compare_indexes();
}

static void test_both_engines_build_the_same_schema(void **state)
{
    (void)state;
    cn_migration_set_t sets[CN_MODULES_MAX];
    size_t n_sets = module_sets(sets);
    migrate_pg(sets, n_sets);
    cn_err_t err = {0};
    pg_must(cn_migrate(s, sets, n_sets, 0, NULL, NULL, &err), &err, "migrate SQLite");
    assert_int_equal(count_migrations_sqlite(), count_migrations_pg());

    assert_int_equal(schema_problems(), 0);
    assert_true(has_table(&lite, "interactions") && has_table(&pg, "interactions"));
    assert_true(has_table(&lite, "interactions_fts"));
    assert_false(has_table(&lite, "interactions_fts_data")); /* FTS5's shadow tables */
}

/* The comparison itself, on the databases the test above migrated: a column one side
 * lacks, a type that is not the pair, a nullability or a whole table is a difference. */
static void test_each_kind_of_difference_is_found(void **state)
{
    (void)state;
    pg_script(c, "ALTER TABLE notes DROP COLUMN analyses");
    assert_int_equal(schema_problems(), 1);
    pg_script(c, "ALTER TABLE notes ADD COLUMN analyses BIGINT NOT NULL DEFAULT 0");
    assert_int_equal(schema_problems(), 0);

    /* float4 would lose the sentiment cursor's exact round trip */
    pg_script(c, "ALTER TABLE interactions ALTER COLUMN s_compound TYPE real");
    assert_int_equal(schema_problems(), 1);
    pg_script(c, "ALTER TABLE interactions ALTER COLUMN s_compound TYPE double precision");
    pg_script(c, "ALTER TABLE notes ALTER COLUMN body DROP NOT NULL");
    assert_int_equal(schema_problems(), 1);
    pg_script(c, "ALTER TABLE notes ALTER COLUMN body SET NOT NULL");
    /* a listed difference must still be there (and the GIN index goes with the column) */
    pg_script(c, "ALTER TABLE interactions_fts DROP COLUMN doc");
    assert_int_equal(schema_problems(), 2);
    pg_script(c, "CREATE TABLE stray (id BIGINT)");
    assert_int_equal(schema_problems(), 3);
    pg_script(c, "DROP TABLE stray;"
                 "ALTER TABLE interactions_fts ADD COLUMN doc tsvector GENERATED ALWAYS AS"
                 " (to_tsvector('cairn_search'::regconfig, body)) STORED;"
                 "CREATE INDEX interactions_fts_doc ON interactions_fts USING gin (doc)");
    assert_int_equal(schema_problems(), 0);

    pg_script(c, "DROP INDEX jobs_due");
    assert_int_equal(schema_problems(), 1);
    pg_script(c, "CREATE INDEX jobs_due ON jobs (state, run_at);"
                 "DROP INDEX interactions_idem;"
                 "CREATE INDEX interactions_idem ON interactions (tenant_id, idempotency_key)");
    assert_int_equal(schema_problems(), 1); /* no longer unique */
}

/* The search table's configuration folds accents and case as FTS5's remove_diacritics
 * does, so "ecole" finds "l'École" (and the row's tsvector is computed by the server). */
static void test_the_search_table_folds_accents(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_val_t a[] = {CN_VINT(1), CN_VTEXT("t1"), CN_VTEXT("l'École est fermée")};
    pg_must(cn_pg_run(c, "INSERT INTO interactions_fts (seq, tenant_id, body) VALUES ($1, $2, $3)",
                      a, 3, NULL, NULL, &err),
            &err, "insert into the search table");
    cn_pg_rows_t r;
    pg_must(cn_pg_run(c,
                      "SELECT seq FROM interactions_fts"
                      " WHERE doc @@ to_tsquery('cairn_search', 'ecole') AND tenant_id = 't1'",
                      NULL, 0, &r, NULL, &err),
            &err, "search");
    assert_int_equal(cn_pg_next(&r), CN_ROW);
    assert_int_equal(cn_pg_int(&r, 0), 1);
    assert_int_equal(cn_pg_next(&r), CN_DONE);
    cn_pg_rows_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_engines_build_the_same_schema),
        cmocka_unit_test(test_the_search_table_folds_accents),
        cmocka_unit_test(test_each_kind_of_difference_is_found),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
