/*
 * One PostgreSQL connection as the store's PostgreSQL driver uses it (libpq): statements
 * prepared once per connection and kept by their text, parameters sent as text and typed
 * by the server, result values read back in the store's types, and SQLSTATE mapped onto
 * the status vocabulary. The driver (transactions, the loop's batch, units of work) is
 * built on this; nothing outside src/store includes it.
 *
 * Values: an integer column reads as int64 (a boolean as 1 or 0, so `EXISTS` and `IS
 * NULL` read like SQLite's), a double precision column as double (PostgreSQL writes the
 * shortest text that reads back exactly), text as the server sent it. Errors: a unique
 * violation is CN_ECONFLICT, another constraint CN_EVALIDATION, a serialisation failure,
 * a deadlock or a lost connection CN_EBUSY (the caller may retry), anything else CN_ERR.
 * After a lost connection cn_pg_reconnect() opens a new one (the prepared statements are
 * made again on first use).
 */
#ifndef CAIRN_STORE_PG_INT_H
#define CAIRN_STORE_PG_INT_H

#include "store/store.h"

#include <libpq-fe.h>

typedef struct st_cn_pg_t cn_pg_t;

/** The rows of one statement's result, read forward. */
typedef struct st_cn_pg_rows_t {
    PGresult *res;
    int row; /* -1 before the first cn_pg_next */
    int n;
} cn_pg_rows_t;

/** Connects to url (a libpq URI: postgres://user:password@host:port/db?…). */
CN_MUST_CHECK int cn_pg_connect(const char *url, cn_pg_t **out, cn_err_t *err);
/** The same, running setup (session settings; may be NULL) after this and every reconnect. */
CN_MUST_CHECK int cn_pg_connect_with(const char *url, const char *setup, cn_pg_t **out,
                                     cn_err_t *err);
void cn_pg_close(cn_pg_t *c);
/**
 * Closes the connection and opens a new one to the same server; the statements go. Waits
 * at most a few tens of milliseconds: CN_EBUSY ("still connecting") while the server has
 * not answered yet, and the next call goes on with the same attempt, which gives up after
 * connect_timeout (5 s). 0 once connected.
 */
CN_MUST_CHECK int cn_pg_reconnect(cn_pg_t *c, cn_err_t *err);
/** 1 while the connection is usable, as far as libpq knows. */
int cn_pg_alive(const cn_pg_t *c);
/** Where the connection's transaction stands (PQTRANS_UNKNOWN without a connection). */
PGTransactionStatusType cn_pg_txn_status(const cn_pg_t *c);

/**
 * Runs sql ($1..$n) with args, preparing it on first use on this connection. rows (may be
 * NULL when no rows are wanted) receives the result: read it with cn_pg_next and the
 * value calls, then cn_pg_rows_clear. *changes (may be NULL) gets the rows the statement
 * inserted, updated or deleted.
 */
CN_MUST_CHECK int cn_pg_run(cn_pg_t *c, const char *sql, const cn_val_t *args, size_t n,
                            cn_pg_rows_t *rows, int64_t *changes, cn_err_t *err);
/**
 * Sends sql ($1..$n) with args without waiting for its result, which cn_pg_receive reads
 * later, in the order the statements were sent (several may wait at once: one round trip
 * for all of them). sync = 1 puts a sync point after it: it then runs as a transaction of
 * its own outside a transaction block, and its failure cannot touch what is sent after it.
 * Statements sent with sync = 0 (inside a transaction block, where a failure loses the
 * transaction anyway) wait in libpq's buffer with the next ones; the server answers them
 * all, and flushes once, at the next sync point, which cn_pg_receive sends itself when
 * none follows what it reads. A failure there makes the rest of the group fail too
 * (skipped by the server). Returns 0; CN_PG_UNPREPARED when sql is new on this connection
 * while statements wait (read their results, then send again: preparing it needs a round
 * trip of its own); or an error. While any statement waits, cn_pg_run and cn_pg_script
 * refuse.
 */
#define CN_PG_UNPREPARED 1
CN_MUST_CHECK int cn_pg_send(cn_pg_t *c, const char *sql, const cn_val_t *args, size_t n, int sync,
                             cn_err_t *err);
/** The result of the oldest statement sent and not read yet, as cn_pg_run gives it. */
CN_MUST_CHECK int cn_pg_receive(cn_pg_t *c, cn_pg_rows_t *rows, int64_t *changes, cn_err_t *err);

/** Runs ;-separated statements without parameters (migrations, BEGIN, SAVEPOINT …). */
CN_MUST_CHECK int cn_pg_script(cn_pg_t *c, const char *sql, cn_err_t *err);

/** CN_ROW when the next row is ready, CN_DONE after the last. */
int cn_pg_next(cn_pg_rows_t *r);
int64_t cn_pg_int(const cn_pg_rows_t *r, int col);
double cn_pg_real(const cn_pg_rows_t *r, int col);
const char *cn_pg_text(const cn_pg_rows_t *r, int col, size_t *len); /* NULL for SQL NULL */
/** 1 when the column is bytea: cn_pg_text gives its escaped text (\x…). */
int cn_pg_is_bytea(const cn_pg_rows_t *r, int col);
int cn_pg_is_null(const cn_pg_rows_t *r, int col);
void cn_pg_rows_clear(cn_pg_rows_t *r);

#endif
