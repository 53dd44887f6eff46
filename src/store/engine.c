/*
 * Which database engine the store runs on, chosen once per process by store.url (the
 * configuration's CAIRN_DATABASE_URL or --database): the check of the URL's shape that
 * `cairn config check` runs, and cn_store_open's one branch to a driver. Every opener goes
 * through that branch (the event loops, job workers, workers, the realtime reader and the
 * CLI), so a URL naming an engine this build lacks is refused everywhere and never falls
 * back to SQLite. PostgreSQL URLs are parsed by libpq itself (PQconninfoParse), the parser
 * the driver will connect with, so what passes here is what it will read.
 */
#include "lib/redact.h"
#include "store/driver.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

cn_store_engine_t cn_store_engine(const char *url)
{
    if (url == NULL || url[0] == '\0' || strcmp(url, "sqlite:") == 0)
        return CN_ENGINE_SQLITE;
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return CN_ENGINE_POSTGRES;
    return CN_ENGINE_UNKNOWN;
}

/* The PostgreSQL URL as libpq reads it: it must name a server, by host or socket dir. */
static int check_postgres(const char *url, const char *shown, cn_err_t *err)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &msg);
    if (opts == NULL) {
        /* libpq's message may quote a piece of the URL it could not place, which may be a
         * piece of the password: not shown */
        PQfreemem(msg);
        return cn_err_set(err, CN_EINVAL,
                          "store.url: not a PostgreSQL URL libpq accepts: write it as "
                          "postgres://USER:PASSWORD@HOST:PORT/DB, with any of :/?#[]@%% in "
                          "the user or password percent-encoded (got \"%s\")",
                          shown);
    }
    int named = 0;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if ((strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0) &&
            o->val != NULL && o->val[0] != '\0')
            named = 1;
    PQconninfoFree(opts);
    if (named)
        return 0;
    /* libpq would fall back to a socket directory compiled into it: say which server */
    return cn_err_set(err, CN_EINVAL,
                      "store.url: name the PostgreSQL server, by host "
                      "(postgres://USER@HOST:5432/DB) or by socket directory "
                      "(postgres:///DB?host=/var/run/postgresql) (got \"%s\")",
                      shown);
}

int cn_store_url_check(const char *url, cn_err_t *err)
{
    char shown[512];
    cn_url_redact(url != NULL ? url : "", shown, sizeof(shown));
    switch (cn_store_engine(url)) {
    case CN_ENGINE_SQLITE: return 0;
    case CN_ENGINE_POSTGRES: return check_postgres(url, shown, err);
    case CN_ENGINE_UNKNOWN: break;
    }
    if (strncmp(url, "sqlite:", 7) == 0)
        return cn_err_set(err, CN_EINVAL,
                          "store.url: sqlite: takes no path: the SQLite database is always "
                          "cairn.db in store.data (--data); write sqlite: alone or leave "
                          "store.url empty (got \"%s\")",
                          shown);
    return cn_err_set(err, CN_EINVAL,
                      "store.url: must be empty or sqlite: (SQLite in store.data), or a "
                      "postgres:// or postgresql:// URL (got \"%s\")",
                      shown);
}

int cn_store_driver_check(const char *url, cn_err_t *err)
{
    return cn_store_engine(url) == CN_ENGINE_UNKNOWN ? cn_store_url_check(url, err) : 0;
}

/* The one place a driver is chosen. */
int cn_store_open(const cn_store_opts_t *opts, cn_store_t **out, cn_err_t *err)
{
    switch (cn_store_engine(opts->url)) {
    case CN_ENGINE_SQLITE: return cn__sqlite_open(opts, out, err);
    case CN_ENGINE_POSTGRES: return cn__postgres_open(opts, out, err);
    case CN_ENGINE_UNKNOWN: break;
    }
    return cn_store_url_check(opts->url, err); /* says what is wrong with it */
}
