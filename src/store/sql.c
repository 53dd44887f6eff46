/* What every driver shares (see store.h): the dialect's $n parameters, and ending a
 * transaction by the outcome of its work. */
#include "store/store.h"

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

int cn_store_end(cn_store_t *s, int rc, cn_err_t *err)
{
    if (rc == 0)
        return cn_store_commit(s, err);
    cn_store_rollback(s);
    return rc;
}
