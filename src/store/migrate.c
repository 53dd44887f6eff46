/*
 * Migrations (see store.h). Each module owns an ordered list; schema_migrations records
 * what has been applied. A database that knows a migration this binary does not is
 * treated as written by a newer Cairn, and nothing touches it.
 */
#include "store/store_int.h"

#include <stdio.h>
#include <string.h>

/* common to both drivers: BIGINT, since PostgreSQL's INTEGER is 32 bits and applied_at holds
 * Unix ms (SQLite gives BIGINT the same integer affinity as INTEGER); version is INTEGER,
 * which is 32 bits on PostgreSQL and holds any version an int does */
const char cn_migrations_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " module TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,"
    " applied_at BIGINT NOT NULL, PRIMARY KEY (module, version))";

static const cn_migration_t *find(const cn_migration_set_t *sets, size_t n_sets, const char *module,
                                  size_t module_len, int64_t version)
{
    for (size_t i = 0; i < n_sets; i++) {
        if (strlen(sets[i].module) != module_len || memcmp(sets[i].module, module, module_len) != 0)
            continue;
        for (const cn_migration_t *m = sets[i].list; m->version != 0; m++)
            if (m->version == version)
                return m;
    }
    return NULL;
}

/* Walks schema_migrations: counts rows and fails on any this binary does not know. */
static int check_known(cn_store_t *s, const cn_migration_set_t *sets, size_t n_sets, int *applied,
                       cn_err_t *err)
{
    cn_stmt_t *st;
    int rc =
        cn_store_query(s, "SELECT module, version, name FROM schema_migrations", NULL, 0, &st, err);
    if (rc != 0)
        return rc;
    *applied = 0;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        size_t mlen;
        const char *module = cn_stmt_text(st, 0, &mlen);
        int64_t version = cn_stmt_int(st, 1);
        if (find(sets, n_sets, module, mlen, version) == NULL) {
            cn_err_set(err, CN_ETOONEW,
                       "the database has migration %.*s/%lld (%s), which this cairn (version %s) "
                       "does not know: it was written by a newer cairn",
                       (int)mlen, module, (long long)version, cn_stmt_text(st, 2, NULL),
                       CAIRN_VERSION);
            rc = CN_ETOONEW;
            break;
        }
        (*applied)++;
    }
    cn_stmt_finish(st);
    return rc == CN_DONE ? 0 : rc;
}

/* Whether schema_migrations exists: a status check (every /readyz) must not write, and on
 * PostgreSQL even CREATE TABLE IF NOT EXISTS is a write that takes a lock. */
static const cn_sql_pair_t table_exists = {
    .sqlite = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    .postgres = "SELECT 1 FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename = 'schema_migrations'"};

int cn_migrate_status(cn_store_t *s, const cn_migration_set_t *sets, size_t n_sets,
                      cn_migrate_status_t *out, cn_err_t *err)
{
    int rc = cn_store_exists(s, cn_store_sql(s, &table_exists), NULL, 0, err);
    out->applied = 0;
    if (rc == 0)
        rc = check_known(s, sets, n_sets, &out->applied, err);
    else if (rc == CN_ENOTFOUND)
        rc = 0;
    if (rc != 0)
        return rc;
    /* every row is a known migration (check_known), and (module, version) is the key */
    int known = 0;
    for (size_t i = 0; i < n_sets; i++)
        for (const cn_migration_t *m = sets[i].list; m->version != 0; m++)
            known++;
    out->pending = known - out->applied;
    return 0;
}

static int is_applied(cn_store_t *s, const char *module, int version, int *yes, cn_err_t *err)
{
    cn_val_t args[] = {CN_VTEXT(module), CN_VINT(version)};
    int rc = cn_store_exists(
        s, "SELECT 1 FROM schema_migrations WHERE module = $1 AND version = $2", args, 2, err);
    *yes = rc == 0;
    return rc == CN_ENOTFOUND ? 0 : rc;
}

const char *cn_migration_pg(const cn_migration_t *m)
{
    return m->pg != NULL ? m->pg : m->sql;
}

static int apply_one(cn_store_t *s, const char *module, const cn_migration_t *m, cn_err_t *err)
{
    const char *sql = cn_store_is_postgres(s) ? cn_migration_pg(m) : m->sql;
    int rc = sql[0] != '\0' ? cn_store_exec_script(s, sql, err) : 0;
    if (rc != 0) {
        char msg[sizeof(err->msg)];
        memcpy(msg, err->msg, sizeof(msg));
        return cn_err_set(err, CN_ERR, "migration %s/%d (%s) failed: %s", module, m->version,
                          m->name, msg);
    }
    cn_val_t args[] = {CN_VTEXT(module), CN_VINT(m->version), CN_VTEXT(m->name),
                       CN_VINT(cn_now_ms())};
    return cn_store_exec(s,
                         "INSERT INTO schema_migrations (module, version, name, applied_at) "
                         "VALUES ($1, $2, $3, $4)",
                         args, 4, NULL, err);
}

/* Several nodes may start together on one PostgreSQL database: one of them migrates while
 * the others wait, then find everything applied. (SQLite's instance lock and write lock
 * already keep two processes from migrating at once.) A session lock, so it spans the
 * migrations' own transactions; the connection's end releases it too. */
static const cn_sql_pair_t migrate_lock = {
    .postgres = "SELECT pg_advisory_lock(hashtextextended('cairn.migrate', 0))"};
static const cn_sql_pair_t migrate_unlock = {
    .postgres = "SELECT pg_advisory_unlock(hashtextextended('cairn.migrate', 0))"};

static int migrate_locked(cn_store_t *s, const cn_migration_set_t *sets, size_t n_sets, int dry_run,
                          void (*report)(const char *line, void *ud), void *ud, cn_err_t *err);

int cn_migrate(cn_store_t *s, const cn_migration_set_t *sets, size_t n_sets, int dry_run,
               void (*report)(const char *line, void *ud), void *ud, cn_err_t *err)
{
    const char *lock = cn_store_sql(s, &migrate_lock);
    int rc = lock ? cn_store_exec(s, lock, NULL, 0, NULL, err) : 0;
    if (rc != 0)
        return rc;
    rc = migrate_locked(s, sets, n_sets, dry_run, report, ud, err);
    if (lock)
        cn_ignore(cn_store_exec(s, cn_store_sql(s, &migrate_unlock), NULL, 0, NULL, NULL));
    return rc;
}

static int migrate_locked(cn_store_t *s, const cn_migration_set_t *sets, size_t n_sets, int dry_run,
                          void (*report)(const char *line, void *ud), void *ud, cn_err_t *err)
{
    cn_migrate_status_t status;
    int rc = cn_store_exec(s, cn_migrations_table_sql, NULL, 0, NULL, err);
    if (rc == 0)
        rc = cn_migrate_status(s, sets, n_sets, &status, err);
    if (rc != 0)
        return rc;
    if (dry_run && (rc = cn_store_begin(s, err)) != 0)
        return rc;
    char line[256];
    for (size_t i = 0; i < n_sets && rc == 0; i++) {
        for (const cn_migration_t *m = sets[i].list; m->version != 0 && rc == 0; m++) {
            int yes;
            if ((rc = is_applied(s, sets[i].module, m->version, &yes, err)) != 0 || yes)
                continue;
            if (!dry_run && (rc = cn_store_begin(s, err)) != 0)
                break;
            rc = apply_one(s, sets[i].module, m, err);
            if (!dry_run)
                rc = cn_store_end(s, rc, err);
            if (rc == 0 && report) {
                snprintf(line, sizeof(line), "%s %s/%d %s", dry_run ? "would apply" : "applied",
                         sets[i].module, m->version, m->name);
                report(line, ud);
            }
        }
    }
    if (dry_run)
        cn_store_rollback(s);
    return rc;
}
