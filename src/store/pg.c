/*
 * A PostgreSQL connection for the store's PostgreSQL driver (see pg_int.h). libpq does
 * the protocol; this file keeps what libpq leaves to its caller: one server-side prepared
 * statement per distinct SQL text (named s1, s2, …, found again by the text), parameters
 * as NUL-terminated text (a store value's text need not end in NUL), and the store's
 * status codes for SQLSTATEs.
 */
#include "store/pg_int.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOOLOID 16 /* pg_type.h is not part of libpq-dev */
#define BYTEAOID 17
#define PARAMS_MAX 65535 /* the protocol's limit (a 16-bit count) */
#define PREPARED_MAX 1024
#define CONNECT_TIMEOUT_NS (5 * 1000000000ull) /* as connect_timeout: an attempt gives up */
#define RECONNECT_WAIT_MS 50 /* what one cn_pg_reconnect call may wait for its attempt */

typedef struct {
    char *sql; /* owned copy; the key */
    uint64_t hash;
    char name[16];
} prepared_t;

struct st_cn_pg_t {
    PGconn *conn;
    char *url;
    char *setup;       /* run after each connect (session settings); may be NULL */
    prepared_t *cache; /* open addressing, power-of-two capacity */
    size_t cap, count;
    unsigned next_name;
    const char **values; /* the parameters of the statement being run */
    int *lengths;        /* of binary ones (blobs) */
    int *formats;        /* 1: binary */
    size_t params_cap;
    int binary; /* some parameter is binary */
    char *text; /* their text */
    size_t text_cap;
    int waiting;  /* statements sent (cn_pg_send) whose results are not read yet */
    int unsynced; /* the last of them, sent with no sync point after them yet */
    int *groups;  /* a ring: how many statements each sync point sent ends */
    size_t g_head, g_n, g_cap;
    PGconn *connecting; /* a reconnect attempt under way (cn_pg_reconnect) */
    PostgresPollingStatusType connect_state;
    uint64_t connect_deadline_ns;
};

/* ---- errors ---- */

static int map_error(cn_pg_t *c, const PGresult *res, cn_err_t *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    /* the primary line only: a DETAIL may quote the row's values (Key (email)=(…)) */
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *msg = primary ? primary : res ? PQresultErrorMessage(res) : PQerrorMessage(c->conn);
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        len--; /* libpq ends its messages with a newline */
    if (PQstatus(c->conn) == CONNECTION_BAD || (state && strncmp(state, "08", 2) == 0))
        return cn_err_set(err, CN_EBUSY, "the database connection was lost: %.*s", (int)len, msg);
    if (state == NULL)
        return cn_err_set(err, CN_ERR, "postgres: %.*s", (int)len, msg);
    if (strcmp(state, "23505") == 0) /* unique_violation */
        return cn_err_set(err, CN_ECONFLICT, "%.*s", (int)len, msg);
    if (strncmp(state, "23", 2) == 0) /* another integrity constraint */
        return cn_err_set(err, CN_EVALIDATION, "%.*s", (int)len, msg);
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || /* serialisation, deadlock */
        strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0)   /* lock, statement timeout */
        return cn_err_set(err, CN_EBUSY, "database is busy: %.*s", (int)len, msg);
    if (strncmp(state, "57P", 3) == 0) /* the server is shutting down or restarting */
        return cn_err_set(err, CN_EBUSY, "the database is unavailable: %.*s", (int)len, msg);
    return cn_err_set(err, CN_ERR, "postgres %s: %.*s", state, (int)len, msg);
}

/* ---- connections ---- */

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Defaults the URL may override: a dead server must not park a thread in connect() for
 * the system's TCP timeout, and the server's views name who is connected. */
static const char *const connect_keys[] = {"connect_timeout", "application_name", "dbname", NULL};

static PGconn *connect_url(const char *url, int blocking)
{
    const char *const values[] = {"5", "cairn", url, NULL};
    /* 1: dbname is the URL, expanded last */
    return blocking ? PQconnectdbParams(connect_keys, values, 1)
                    : PQconnectStartParams(connect_keys, values, 1);
}

/* libpq's message names the host and the reason, never the password */
static int connect_failed(PGconn **conn, cn_err_t *err)
{
    int rc = cn_err_set(err, CN_EBUSY, "cannot connect to PostgreSQL: %s",
                        *conn ? PQerrorMessage(*conn) : "out of memory");
    PQfinish(*conn);
    *conn = NULL;
    return rc;
}

/* What every new connection needs before its first statement. */
static int after_connect(cn_pg_t *c, cn_err_t *err)
{
    /* the notices of a migration (`… does not exist, skipping`) are not errors, and
     * libpq would print them on stderr, outside the log */
    PQsetNoticeProcessor(c->conn, ignore_notice, NULL);
    if (PQserverVersion(c->conn) < 150000)
        return cn_err_set(err, CN_EINVAL, "PostgreSQL %d.%d is too old: Cairn needs 15 or newer",
                          PQserverVersion(c->conn) / 10000, PQserverVersion(c->conn) % 10000);
    return c->setup ? cn_pg_script(c, c->setup, err) : 0;
}

static int open_conn(cn_pg_t *c, cn_err_t *err)
{
    c->conn = connect_url(c->url, 1);
    if (PQstatus(c->conn) != CONNECTION_OK)
        return connect_failed(&c->conn, err);
    return after_connect(c, err);
}

/* Advances the reconnect attempt, waiting at most wait_ms for its socket: 1 when it has
 * connected, 0 while it goes on, -1 when it failed. */
static int advance_connect(cn_pg_t *c, int wait_ms)
{
    uint64_t until = cn_now_ns() + (uint64_t)wait_ms * 1000000u;
    for (;;) {
        struct pollfd pfd = {.fd = PQsocket(c->connecting),
                             .events =
                                 c->connect_state == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        uint64_t now = cn_now_ns();
        int n = poll(&pfd, 1, now < until ? (int)((until - now) / 1000000u) : 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            return 0;
        c->connect_state = PQconnectPoll(c->connecting);
        if (c->connect_state == PGRES_POLLING_OK)
            return 1;
        if (c->connect_state == PGRES_POLLING_FAILED)
            return -1;
    }
}

static void forget_statements(cn_pg_t *c)
{
    for (size_t i = 0; i < c->cap; i++)
        free(c->cache[i].sql);
    memset(c->cache, 0, c->cap * sizeof(*c->cache));
    c->count = 0;
}

int cn_pg_connect(const char *url, cn_pg_t **out, cn_err_t *err)
{
    return cn_pg_connect_with(url, NULL, out, err);
}

int cn_pg_connect_with(const char *url, const char *setup, cn_pg_t **out, cn_err_t *err)
{
    cn_pg_t *c = cn_calloc(1, sizeof(*c));
    c->url = cn_strdup(url);
    c->setup = setup ? cn_strdup(setup) : NULL;
    c->cap = 64;
    c->cache = cn_calloc(c->cap, sizeof(*c->cache));
    int rc = open_conn(c, err);
    if (rc != 0) {
        cn_pg_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void cn_pg_close(cn_pg_t *c)
{
    if (c == NULL)
        return;
    if (c->conn)
        PQfinish(c->conn);
    if (c->connecting)
        PQfinish(c->connecting);
    forget_statements(c);
    free(c->cache);
    free(c->groups);
    free(c->text);
    free(c->values);
    free(c->lengths);
    free(c->formats);
    free(c->setup);
    sodium_memzero(c->url, strlen(c->url)); /* it may hold the password */
    free(c->url);
    free(c);
}

/* A server that takes the connection but does not answer (stopped, or the network
 * dropping its packets) must not hold the loop for connect_timeout: each call waits at
 * most RECONNECT_WAIT_MS, and the attempt goes on at the next call. */
int cn_pg_reconnect(cn_pg_t *c, cn_err_t *err)
{
    if (c->connecting == NULL) {
        if (c->conn)
            PQfinish(c->conn);
        c->conn = NULL;
        c->waiting = c->unsynced = 0; /* their results went with it */
        c->g_n = 0;
        forget_statements(c); /* they lived on the old server session */
        c->connecting = connect_url(c->url, 0);
        if (c->connecting == NULL || PQstatus(c->connecting) == CONNECTION_BAD)
            return connect_failed(&c->connecting, err);
        c->connect_state = PGRES_POLLING_WRITING; /* libpq: wait to write first */
        c->connect_deadline_ns = cn_now_ns() + CONNECT_TIMEOUT_NS;
    }
    int made = advance_connect(c, RECONNECT_WAIT_MS);
    if (made == 0 && cn_now_ns() < c->connect_deadline_ns)
        return cn_err_set(err, CN_EBUSY, "the database is unavailable: still connecting");
    if (made == 0) {
        PQfinish(c->connecting);
        c->connecting = NULL;
        return cn_err_set(err, CN_EBUSY, "cannot connect to PostgreSQL: no answer within %llu s",
                          CONNECT_TIMEOUT_NS / 1000000000ull);
    }
    if (made < 0)
        return connect_failed(&c->connecting, err);
    c->conn = c->connecting;
    c->connecting = NULL;
    return after_connect(c, err);
}

int cn_pg_alive(const cn_pg_t *c)
{
    return c->conn != NULL && PQstatus(c->conn) == CONNECTION_OK;
}

PGTransactionStatusType cn_pg_txn_status(const cn_pg_t *c)
{
    return c->conn ? PQtransactionStatus(c->conn) : PQTRANS_UNKNOWN;
}

/* ---- prepared statements ---- */

static prepared_t *cache_slot(cn_pg_t *c, const char *sql, uint64_t h)
{
    size_t i = h & (c->cap - 1);
    while (c->cache[i].sql && (c->cache[i].hash != h || strcmp(c->cache[i].sql, sql) != 0))
        i = (i + 1) & (c->cap - 1);
    return &c->cache[i];
}

static void cache_grow(cn_pg_t *c)
{
    prepared_t *old = c->cache;
    size_t old_cap = c->cap;
    c->cap *= 2;
    c->cache = cn_calloc(c->cap, sizeof(*c->cache));
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].sql)
            *cache_slot(c, old[i].sql, old[i].hash) = old[i];
    free(old);
}

/* Some SQL is built per request (the insights filters): past PREPARED_MAX statements on a
 * connection, the server's copies (a few KB to hundreds of KB each, in the backend's
 * memory) are all dropped, between transactions, and made again as they come back. */
static void forget_all_when_full(cn_pg_t *c)
{
    if (c->count < PREPARED_MAX || PQtransactionStatus(c->conn) != PQTRANS_IDLE)
        return;
    PGresult *res = PQexec(c->conn, "DEALLOCATE ALL");
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        forget_statements(c);
    PQclear(res);
}

/* The name of sql's statement on this connection, prepared now if it is new. */
static const char *prepared(cn_pg_t *c, const char *sql, cn_err_t *err)
{
    uint64_t h = cn_hash_str(sql);
    prepared_t *p = cache_slot(c, sql, h);
    if (p->sql)
        return p->name;
    forget_all_when_full(c);
    p = cache_slot(c, sql, h);
    char name[16];
    snprintf(name, sizeof(name), "s%u", ++c->next_name);
    PGresult *res = PQprepare(c->conn, name, sql, 0, NULL); /* the server types $1..$n */
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        map_error(c, res, err);
        PQclear(res);
        return NULL;
    }
    PQclear(res);
    if ((c->count + 1) * 2 > c->cap) {
        cache_grow(c);
        p = cache_slot(c, sql, h);
    }
    *p = (prepared_t){.sql = cn_strdup(sql), .hash = h};
    memcpy(p->name, name, sizeof(name));
    c->count++;
    return p->name;
}

/* ---- parameters ---- */

/* The text of one value into out (room for 40 bytes, or the text's length + 1); returns
 * its length, or -1 for SQL NULL. */
static long value_text(const cn_val_t *v, char *out)
{
    switch (v->type) {
    case CN_V_INT: return snprintf(out, 40, "%" PRId64, v->i);
    case CN_V_REAL: return snprintf(out, 40, "%.17g", v->d);
    case CN_V_TEXT:
        memcpy(out, v->s, v->len);
        out[v->len] = '\0';
        return (long)v->len;
    default: return -1;
    }
}

/* The parameters as NUL-terminated text in the connection's buffer; c->values[i] is NULL
 * for SQL NULL. */
static void params_text(cn_pg_t *c, const cn_val_t *args, size_t n)
{
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        need += (args[i].type == CN_V_TEXT ? args[i].len : 0) + 41;
    if (need == 0)
        need = 1;
    if (need > c->text_cap) {
        free(c->text);
        c->text_cap = need * 2;
        c->text = cn_malloc(c->text_cap);
    }
    if (n > c->params_cap) {
        c->params_cap = n < 64 ? 64 : n;
        free(c->values);
        free(c->lengths);
        free(c->formats);
        c->values = cn_calloc(c->params_cap, sizeof(*c->values));
        c->lengths = cn_calloc(c->params_cap, sizeof(*c->lengths));
        c->formats = cn_calloc(c->params_cap, sizeof(*c->formats));
    }
    size_t at = 0;
    c->binary = 0;
    for (size_t i = 0; i < n; i++) {
        c->formats[i] = args[i].type == CN_V_BLOB; /* bytes as they are, no escaping */
        if (c->formats[i]) {
            c->values[i] = args[i].s;
            c->lengths[i] = (int)args[i].len;
            c->binary = 1;
            continue;
        }
        long len = value_text(&args[i], c->text + at);
        c->values[i] = len < 0 ? NULL : c->text + at;
        c->lengths[i] = 0;
        at += len < 0 ? 0 : (size_t)len + 1;
    }
}

/* ---- running statements ---- */

/* The checks every statement passes before it is sent. */
static int ready_to_send(cn_pg_t *c, size_t n, const cn_val_t *args, cn_err_t *err)
{
    if (n > PARAMS_MAX || (n > 0 && args == NULL))
        return cn_err_set(err, CN_ERR, "more than %d parameters", PARAMS_MAX);
    if (!cn_pg_alive(c))
        return cn_err_set(err, CN_EBUSY, "the database connection was lost");
    return 0;
}

/* A statement's result into rows and *changes (both may be NULL); res is consumed. */
static int take_result(cn_pg_t *c, PGresult *res, cn_pg_rows_t *rows, int64_t *changes,
                       cn_err_t *err)
{
    ExecStatusType st = PQresultStatus(res);
    if (res == NULL || (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)) {
        int rc = map_error(c, res, err);
        PQclear(res);
        return rc;
    }
    if (changes) {
        const char *t = PQcmdTuples(res);
        *changes = t[0] ? strtoll(t, NULL, 10) : 0;
    }
    if (rows) {
        rows->res = res;
        rows->n = PQntuples(res);
    } else {
        PQclear(res);
    }
    return 0;
}

/* Statements run one at a time only with nothing sent ahead of them in a pipeline. */
static int not_waiting(cn_pg_t *c, cn_err_t *err)
{
    if (c->waiting > 0)
        return cn_err_set(err, CN_ERR, "statements sent ahead still wait for their results");
    return 0;
}

int cn_pg_run(cn_pg_t *c, const char *sql, const cn_val_t *args, size_t n, cn_pg_rows_t *rows,
              int64_t *changes, cn_err_t *err)
{
    if (rows)
        *rows = (cn_pg_rows_t){.row = -1};
    int rc = ready_to_send(c, n, args, err);
    if (rc != 0 || (rc = not_waiting(c, err)) != 0)
        return rc;
    const char *name = prepared(c, sql, err);
    if (name == NULL)
        return err ? err->code : CN_ERR;
    params_text(c, args, n);
    PGresult *res = PQexecPrepared(c->conn, name, (int)n, c->values, c->binary ? c->lengths : NULL,
                                   c->binary ? c->formats : NULL, 0);
    return take_result(c, res, rows, changes, err);
}

/* ---- pipelined statements ----
 * Pipeline mode is entered by the first statement sent and left when the last result has
 * been read, so cn_pg_run and cn_pg_script always find the connection as they expect. Each
 * statement is followed by its own sync point: it runs as a transaction of its own, and
 * its failure cannot abort the statements sent after it. */

/* A sync point after the statements sent since the last one: the server answers them
 * (and flushes) when it reaches it. */
static int sync_point(cn_pg_t *c)
{
    if (PQpipelineSync(c->conn) != 1)
        return -1;
    if (c->g_n == c->g_cap) {
        size_t cap = c->g_cap ? c->g_cap * 2 : 16;
        int *g = cn_malloc(cap * sizeof(int));
        for (size_t i = 0; i < c->g_n; i++)
            g[i] = c->groups[(c->g_head + i) % c->g_cap];
        free(c->groups);
        c->groups = g;
        c->g_cap = cap;
        c->g_head = 0;
    }
    c->groups[(c->g_head + c->g_n++) % c->g_cap] = c->unsynced;
    c->unsynced = 0;
    return 0;
}

int cn_pg_send(cn_pg_t *c, const char *sql, const cn_val_t *args, size_t n, int sync, cn_err_t *err)
{
    int rc = ready_to_send(c, n, args, err);
    if (rc != 0)
        return rc;
    const prepared_t *slot = cache_slot(c, sql, cn_hash_str(sql));
    const char *name = slot->sql ? slot->name : NULL;
    if (name == NULL && c->waiting > 0)
        return CN_PG_UNPREPARED; /* preparing waits for a result: read theirs first */
    if (name == NULL && (name = prepared(c, sql, err)) == NULL)
        return err ? err->code : CN_ERR;
    if (PQpipelineStatus(c->conn) == PQ_PIPELINE_OFF && PQenterPipelineMode(c->conn) != 1)
        return map_error(c, NULL, err);
    params_text(c, args, n);
    if (PQsendQueryPrepared(c->conn, name, (int)n, c->values, c->binary ? c->lengths : NULL,
                            c->binary ? c->formats : NULL, 0) != 1) {
        rc = map_error(c, NULL, err);
        if (c->waiting == 0)
            PQexitPipelineMode(c->conn);
        return rc;
    }
    c->waiting++;
    c->unsynced++;
    if (sync)
        cn_ignore(sync_point(c)); /* fails on a broken connection: receiving says so */
    return 0;
}

int cn_pg_receive(cn_pg_t *c, cn_pg_rows_t *rows, int64_t *changes, cn_err_t *err)
{
    if (rows)
        *rows = (cn_pg_rows_t){.row = -1};
    if (c->waiting == 0)
        return cn_err_set(err, CN_ERR, "no statement was sent");
    if (c->g_n == 0)              /* the server waits for a sync point before it answers */
        cn_ignore(sync_point(c)); /* a broken connection: the result below says so */
    c->waiting--;
    PGresult *res = PQgetResult(c->conn);
    int rc = take_result(c, res, rows, changes, err);
    if (res != NULL) /* the end of its results */
        PQclear(PQgetResult(c->conn));
    if (c->g_n > 0 && --c->groups[c->g_head] == 0) { /* then the sync point that ends them */
        c->g_head = (c->g_head + 1) % c->g_cap;
        c->g_n--;
        PQclear(PQgetResult(c->conn));
    }
    if (c->waiting == 0 && c->conn != NULL)
        PQexitPipelineMode(c->conn); /* fails only on a broken connection, reopened anyway */
    return rc;
}

int cn_pg_script(cn_pg_t *c, const char *sql, cn_err_t *err)
{
    if (!cn_pg_alive(c))
        return cn_err_set(err, CN_EBUSY, "the database connection was lost");
    int nw = not_waiting(c, err);
    if (nw != 0)
        return nw;
    PGresult *res = PQexec(c->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : map_error(c, res, err);
    PQclear(res);
    return rc;
}

/* ---- reading rows ---- */

int cn_pg_next(cn_pg_rows_t *r)
{
    if (r->res == NULL || r->row + 1 >= r->n)
        return CN_DONE;
    r->row++;
    return CN_ROW;
}

int cn_pg_is_null(const cn_pg_rows_t *r, int col)
{
    return PQgetisnull(r->res, r->row, col);
}

const char *cn_pg_text(const cn_pg_rows_t *r, int col, size_t *len)
{
    if (PQgetisnull(r->res, r->row, col)) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = (size_t)PQgetlength(r->res, r->row, col);
    return PQgetvalue(r->res, r->row, col);
}

int64_t cn_pg_int(const cn_pg_rows_t *r, int col)
{
    if (PQgetisnull(r->res, r->row, col))
        return 0;
    const char *v = PQgetvalue(r->res, r->row, col);
    if (PQftype(r->res, col) == BOOLOID)
        return v[0] == 't';
    return strtoll(v, NULL, 10);
}

double cn_pg_real(const cn_pg_rows_t *r, int col)
{
    if (PQgetisnull(r->res, r->row, col))
        return 0.0;
    return strtod(PQgetvalue(r->res, r->row, col), NULL);
}

void cn_pg_rows_clear(cn_pg_rows_t *r)
{
    PQclear(r->res);
    *r = (cn_pg_rows_t){.row = -1};
}

int cn_pg_is_bytea(const cn_pg_rows_t *r, int col)
{
    return PQftype(r->res, col) == BYTEAOID;
}
