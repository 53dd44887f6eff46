/*
 * The search index's writes, gathered per transaction. FTS5 flushes its pending terms
 * into a new segment whenever a statement starts inside a transaction that has written to
 * it, so inserting each chunk's entries as it is stored means one segment (and merge
 * work) per 100 rows, which cost more than everything else ingest does together. Instead
 * each chunk stages its entries here, and one statement writes all of a transaction's
 * entries just before it commits (a store precommit hook): one flush per commit. A unit
 * of work that rolls back drops what it staged; the rows and their entries still commit
 * or vanish together.
 *
 * Staging is per thread: a thread writes through one connection at a time, and the hooks
 * run on the thread that owns the transaction. The buffers are freed when their
 * transaction ends, so nothing thread-local outlives its thread.
 */
#include "apps/insights/internal.h"

#include <string.h>

typedef struct {
    cn_buf_t unit;  /* JSON array elements staged by the open unit of work */
    cn_buf_t batch; /* ... by units already released into the open batch */
} staged_t;

static __thread staged_t staged;

void ins_search_stage(int64_t seq, const char *tkey, const char *json_text, size_t len)
{
    cn_buf_t *b = &staged.unit;
    cn_buf_appendf(b, "%s[%lld,\"%s\",\"", b->len ? "," : "", (long long)seq, tkey);
    cn_buf_append(b, json_text, len);
    cn_buf_lit(b, "\"]");
}

static void append_elements(cn_buf_t *to, const cn_buf_t *from)
{
    if (from->len == 0)
        return;
    if (to->len)
        cn_buf_lit(to, ",");
    cn_buf_append(to, from->data, from->len);
}

static int precommit(cn_store_t *s, cn_err_t *err)
{
    append_elements(&staged.batch, &staged.unit);
    staged.unit.len = 0;
    if (staged.batch.len == 0)
        return 0;
    cn_buf_t json = {0};
    cn_buf_lit(&json, "[");
    cn_buf_append(&json, staged.batch.data, staged.batch.len);
    cn_buf_lit(&json, "]");
    cn_val_t a[] = {CN_VTEXTN(json.data, json.len)};
    int rc = cn_store_exec(s,
                           "INSERT INTO interactions_fts (rowid, tkey, body)"
                           " SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each($1)",
                           a, 1, NULL, err);
    cn_buf_free(&json);
    return rc;
}

static void end(cn_store_t *s, int committed)
{
    (void)s;
    (void)committed;
    cn_buf_free(&staged.unit);
    cn_buf_free(&staged.batch);
}

static void unit_end(cn_store_t *s, int committed)
{
    (void)s;
    if (committed)
        append_elements(&staged.batch, &staged.unit);
    cn_buf_free(&staged.unit);
}

const cn_store_hook_t ins_search_hook = {precommit, end, unit_end};
