/*
 * Work that ingest gathers per transaction and writes just before it commits (a store
 * precommit hook):
 *
 * - Search entries. FTS5 flushes its pending terms into a new segment whenever a
 *   statement starts inside a transaction that has written to it, so inserting each
 *   chunk's entries as it is stored meant one segment (and merge work) per 100 rows. One
 *   statement per commit means one flush per commit.
 * - Analysis jobs. Each stored chunk names its row range; the ranges of a transaction are
 *   merged per tenant and cut into jobs of at most INS_CHUNK rows, so 64 single ingests of
 *   a loop turn cost one job instead of 64.
 *
 * A unit of work that rolls back drops what it staged; the rows and what follows them
 * commit or vanish together. Staging is per thread: a thread writes through one
 * connection at a time, and the hooks run on the thread that owns the transaction. The
 * buffers are freed when their transaction ends, so nothing thread-local outlives its
 * thread.
 */
#include "apps/insights/internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char tenant[64];
    int64_t first, last;
} range_t;

typedef struct {
    cn_buf_t search; /* JSON array elements */
    range_t *ranges;
    size_t n_ranges, cap;
} stage_t;

/* unit: staged by the open unit of work; batch: by units already released into the open
 * transaction (or, for a plain transaction, everything) */
static __thread stage_t unit, batch;

void ins_search_stage(const char *tenant, int64_t seq, const char *json_text, size_t len)
{
    cn_buf_t *b = &unit.search;
    cn_buf_appendf(b, "%s[%lld,\"%s\",\"", b->len ? "," : "", (long long)seq, tenant);
    cn_buf_append(b, json_text, len);
    cn_buf_lit(b, "\"]");
}

static void add_range(stage_t *st, const char *tenant, int64_t first, int64_t last)
{
    if (st->n_ranges == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 16;
        st->ranges = cn_realloc(st->ranges, st->cap * sizeof(range_t));
    }
    range_t *r = &st->ranges[st->n_ranges++];
    snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
    r->first = first;
    r->last = last;
}

void ins_analysis_stage(const char *tenant, int64_t first, int64_t last)
{
    add_range(&unit, tenant, first, last);
}

static void stage_free(stage_t *st)
{
    cn_buf_free(&st->search);
    free(st->ranges);
    memset(st, 0, sizeof(*st));
}

/* moves what the unit staged into the transaction's list */
static void release_unit(void)
{
    if (unit.search.len) {
        if (batch.search.len)
            cn_buf_lit(&batch.search, ",");
        cn_buf_append(&batch.search, unit.search.data, unit.search.len);
    }
    for (size_t i = 0; i < unit.n_ranges; i++)
        add_range(&batch, unit.ranges[i].tenant, unit.ranges[i].first, unit.ranges[i].last);
    stage_free(&unit);
}

static int write_search(cn_store_t *s, cn_err_t *err)
{
    if (batch.search.len == 0)
        return 0;
    cn_buf_t json = {0};
    cn_buf_lit(&json, "[");
    cn_buf_append(&json, batch.search.data, batch.search.len);
    cn_buf_lit(&json, "]");
    cn_val_t a[] = {CN_VTEXTN(json.data, json.len)};
    int rc = cn_store_exec(s,
                           "INSERT INTO interactions_fts (rowid, tenant_id, body)"
                           " SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each($1)",
                           a, 1, NULL, err);
    cn_buf_free(&json);
    return rc;
}

static int by_tenant_then_first(const void *a, const void *b)
{
    const range_t *x = a, *y = b;
    int c = strcmp(x->tenant, y->tenant);
    return c ? c : (x->first > y->first) - (x->first < y->first);
}

/* one job per INS_CHUNK rows of each run of adjacent ranges of a tenant */
static int enqueue_run(cn_store_t *s, const char *tenant, int64_t first, int64_t last,
                       cn_err_t *err)
{
    int rc = 0;
    for (int64_t from = first; from <= last && rc == 0; from += INS_CHUNK) {
        int64_t to = from + INS_CHUNK - 1 < last ? from + INS_CHUNK - 1 : last;
        rc = ins_enqueue_analysis(s, tenant, from, to, err);
    }
    return rc;
}

static int write_jobs(cn_store_t *s, cn_err_t *err)
{
    range_t *v = batch.ranges;
    size_t n = batch.n_ranges;
    if (n == 0) /* most transactions: nothing of this module (and qsort wants an array) */
        return 0;
    qsort(v, n, sizeof(*v), by_tenant_then_first);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        size_t j = i;
        int64_t last = v[i].last;
        while (j + 1 < n && strcmp(v[j + 1].tenant, v[i].tenant) == 0 && v[j + 1].first == last + 1)
            last = v[++j].last;
        rc = enqueue_run(s, v[i].tenant, v[i].first, last, err);
        i = j + 1;
    }
    return rc;
}

static int precommit(cn_store_t *s, cn_err_t *err)
{
    release_unit(); /* a plain transaction has no units: everything is still here */
    int rc = write_search(s, err);
    return rc != 0 ? rc : write_jobs(s, err);
}

static void end(cn_store_t *s, int committed)
{
    (void)s;
    (void)committed;
    stage_free(&unit);
    stage_free(&batch);
}

static void unit_end(cn_store_t *s, int committed)
{
    (void)s;
    if (committed)
        release_unit();
    else
        stage_free(&unit);
}

const cn_store_hook_t ins_stage_hook = {precommit, end, unit_end};
