/* The PostgreSQL tests' own database (see pg_db.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pg_db.h"
#include "store/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pg_must(int rc, const cn_err_t *err, const char *what)
{
    if (rc != 0)
        fail_msg("%s: %d %s", what, rc, err->msg);
}

static void read_admin_url(pg_db_t *db)
{
    const char *dir = getenv("CAIRN_TEST_PG_DIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/url", dir ? dir : ".");
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(db->admin_url, sizeof(db->admin_url), f) == NULL)
        fail_msg("no PostgreSQL URL in %s: does the pg_start fixture run (scripts/deps)?", path);
    fclose(f);
    db->admin_url[strcspn(db->admin_url, "\n")] = '\0';
}

/* Runs sql (its one %s: the database's name) on the server's own database. */
static void admin_script(const pg_db_t *db, const char *fmt, const char *options)
{
    cn_err_t err = {0};
    cn_pg_t *admin;
    char sql[256];
    snprintf(sql, sizeof(sql), fmt, db->name, options);
    pg_must(cn_pg_connect(db->admin_url, &admin, &err), &err, "connect as admin");
    pg_must(cn_pg_script(admin, sql, &err), &err, sql);
    cn_pg_close(admin);
}

void pg_db_create(pg_db_t *db, const char *prefix, const char *options)
{
    read_admin_url(db);
    snprintf(db->name, sizeof(db->name), "%s_%d", prefix, (int)getpid());
    admin_script(db, "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8' %s", options);
    /* the same server, the new database: replace the path of the URL */
    char *slash = strrchr(db->admin_url, '/');
    snprintf(db->url, sizeof(db->url), "%.*s/%s", (int)(slash - db->admin_url), db->admin_url,
             db->name);
}

void pg_db_migrate(cn_pg_t *c, const char *module, const cn_migration_t *list)
{
    cn_err_t err = {0};
    for (const cn_migration_t *m = list; m->version != 0; m++) {
        const char *sql = cn_migration_pg(m);
        if (*sql != '\0' && cn_pg_script(c, sql, &err) != 0)
            fail_msg("PostgreSQL text of %s/%d (%s): %s", module, m->version, m->name, err.msg);
    }
}

void pg_db_drop(const pg_db_t *db)
{
    admin_script(db, "DROP DATABASE %s WITH (FORCE)%s", "");
}

void pg_script(cn_pg_t *c, const char *sql)
{
    cn_err_t err = {0};
    pg_must(cn_pg_script(c, sql, &err), &err, sql);
}

void pg_db_open_two(pg_db_t *db, const char *prefix, cn_pg_t **a, cn_pg_t **b)
{
    pg_db_create(db, prefix, "LC_COLLATE 'C' LC_CTYPE 'C'");
    cn_err_t err = {0};
    pg_must(cn_pg_connect(db->url, a, &err), &err, "connect a");
    pg_must(cn_pg_connect(db->url, b, &err), &err, "connect b");
}

void pg_db_close_two(const pg_db_t *db, cn_pg_t *a, cn_pg_t *b)
{
    cn_pg_close(a);
    cn_pg_close(b);
    pg_db_drop(db);
}
