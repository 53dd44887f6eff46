/* What every driver shares (see store.h): the dialect's $n parameters, per-engine
 * statements, and ending a transaction by the outcome of its work. */
#include "store/store_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cn_rows_sql(cn_rows_sql_t *r, size_t rows)
{
    if (rows == 0 || rows > CN_ROWS_MAX)
        return NULL;
    char *sql = atomic_load_explicit(&r->sql[rows], memory_order_acquire);
    if (sql != NULL)
        return sql;
    const char *tail = r->tail ? r->tail : "";
    size_t cap = strlen(r->head) + strlen(tail) + 17 + rows * (4 + (size_t)r->cols * 8), n;
    char *text = cn_malloc(cap);
    n = (size_t)snprintf(text, cap, "%s VALUES ", r->head);
    for (size_t row = 0; row < rows; row++)
        for (int c = 1; c <= r->cols; c++)
            n +=
                (size_t)snprintf(text + n, cap - n, "%s$%zu%s", c == 1 ? (row ? ", (" : "(") : ", ",
                                 row * (size_t)r->cols + (size_t)c, c == r->cols ? ")" : "");
    if (*tail)
        snprintf(text + n, cap - n, " %s", tail);
    char *none = NULL; /* two threads may build it at once: the first one's text stays */
    if (atomic_compare_exchange_strong_explicit(&r->sql[rows], &none, text, memory_order_acq_rel,
                                                memory_order_acquire))
        return text;
    free(text);
    return none;
}

int cn_store_is_postgres(const cn_store_t *s)
{
    return strcmp(cn_store_driver(s), "postgres") == 0;
}

const char *cn_store_sql(const cn_store_t *s, const cn_sql_pair_t *q)
{
    return cn_store_is_postgres(s) ? q->postgres : q->sqlite;
}

int cn_store_end(cn_store_t *s, int rc, cn_err_t *err)
{
    if (rc == 0)
        return cn_store_commit(s, err);
    cn_store_rollback(s);
    return rc;
}

/* Runs sql and steps once: CN_ROW with *out open on the row (the caller finishes it),
 * CN_ENOTFOUND (finished), or the negative code of the query or step (finished). */
static int first_row(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n,
                     cn_stmt_t **out, cn_err_t *err)
{
    int rc = cn_store_query(s, sql, args, n, out, err);
    if (rc != 0)
        return rc;
    rc = cn_stmt_step(*out, err);
    if (rc == CN_ROW)
        return rc;
    cn_stmt_finish(*out);
    return rc < 0 ? rc : CN_ENOTFOUND;
}

int cn_store_one_int(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n, int64_t *out,
                     cn_err_t *err)
{
    cn_stmt_t *st;
    int rc = first_row(s, sql, args, n, &st, err);
    if (rc != CN_ROW)
        return rc;
    *out = cn_stmt_int(st, 0);
    cn_stmt_finish(st);
    return 0;
}

int cn_store_one_text(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n, char *buf,
                      size_t cap, cn_err_t *err)
{
    cn_stmt_t *st;
    int rc = first_row(s, sql, args, n, &st, err);
    if (rc != CN_ROW)
        return rc;
    size_t len = 0;
    const char *text = cn_stmt_text(st, 0, &len);
    if (text == NULL)
        len = 0;
    if (len >= cap)
        rc = cn_err_set(err, CN_ERR, "a value of %zu bytes does not fit in %zu", len, cap);
    else {
        if (len)
            memcpy(buf, text, len);
        buf[len] = '\0';
        rc = 0;
    }
    cn_stmt_finish(st);
    return rc;
}

int cn_store_exists(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n, cn_err_t *err)
{
    cn_stmt_t *st;
    int rc = first_row(s, sql, args, n, &st, err);
    if (rc != CN_ROW)
        return rc;
    cn_stmt_finish(st);
    return 0;
}
