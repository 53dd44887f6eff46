/*
 * What the PostgreSQL tests share: a database of their own on the server ctest's pg
 * fixture starts (scripts/pg-test; its URL in $CAIRN_TEST_PG_DIR/url), made in setup and
 * dropped in teardown, and a check that fails the test with the store's message.
 */
#ifndef CAIRN_TESTS_PG_DB_H
#define CAIRN_TESTS_PG_DB_H

#include "store/store.h"

typedef struct {
    char admin_url[256]; /* the server's own database, to create and drop others */
    char url[256];       /* the test's database */
    char name[64];
} pg_db_t;

/** Fails the test unless rc is 0, with what failed and err's message. */
void pg_must(int rc, const cn_err_t *err, const char *what);

/** Creates the database "<prefix>_<pid>" (options: what follows ENCODING 'UTF8' in its
 *  CREATE DATABASE, may be "") and fills db. */
void pg_db_create(pg_db_t *db, const char *prefix, const char *options);
/** Applies the PostgreSQL texts of a module's migrations (cn_migration_pg; list ends with
 *  version 0) on c, in order. */
struct st_cn_pg_t;
void pg_db_migrate(struct st_cn_pg_t *c, const char *module, const cn_migration_t *list);

/** Drops it, whoever is still connected. */
void pg_db_drop(const pg_db_t *db);

/** Runs sql (no parameters) on c, failing the test with the statement and its error. */
void pg_script(struct st_cn_pg_t *c, const char *sql);

/** A database of the test's own with the C collation the driver asks for, and two
 *  connections to it (for statements that must wait for each other's locks). */
void pg_db_open_two(pg_db_t *db, const char *prefix, struct st_cn_pg_t **a, struct st_cn_pg_t **b);
/** Closes both connections and drops the database. */
void pg_db_close_two(const pg_db_t *db, struct st_cn_pg_t *a, struct st_cn_pg_t *b);

#endif
