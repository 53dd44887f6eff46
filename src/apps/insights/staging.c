/*
 * Work that ingest gathers per transaction and writes just before it commits (a store
 * precommit hook):
 *
 * - Single interactions. Each request only checks its idempotency key and stages its row;
 *   the rows of a transaction (a loop turn's single ingests) are written together, in
 *   chunks per tenant, like a batch: one INSERT for the rows, one upsert per customer and
 *   rollup slot, one event, instead of a set of statements per request under the write
 *   lock. Their search entries and analysis ranges are then staged like a batch's.
 * - Search entries. FTS5 flushes its pending terms into a new segment whenever a
 *   statement starts inside a transaction that has written to it, so inserting each
 *   chunk's entries as it is stored meant one segment (and merge work) per 100 rows. One
 *   statement per commit means one flush per commit. FTS5's automatic merging is off
 *   (migration 3): it merged nothing for many commits and then 300 pages at once, holding
 *   the write lock 15-25 ms. Each commit instead asks for a merge step of 8 pages plus one
 *   per 512 bytes it added, which is more than the new segments need on average, so they
 *   still get merged (a level is merged once it has 4 segments).
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

/* pages of segment merging per commit that adds search entries, plus one per 512 bytes */
#define SEARCH_MERGE_PAGES 8

typedef struct {
    char tenant[64];
    int64_t first, last;
} range_t;

/* a staged single interaction; its item's strings point into text */
typedef struct {
    char tenant[64];
    char id[CN_UUID_LEN + 1];
    size_t order; /* position in the transaction: rows keep it within their tenant */
    ins_item_t item;
    char text[];
} row_t;

typedef struct {
    cn_buf_t search; /* JSON array elements */
    range_t *ranges;
    size_t n_ranges, cap;
    row_t **rows;
    size_t n_rows, rows_cap;
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

static void add_row(stage_t *st, row_t *r)
{
    if (st->n_rows == st->rows_cap) {
        st->rows_cap = st->rows_cap ? st->rows_cap * 2 : 64;
        st->rows = cn_realloc(st->rows, st->rows_cap * sizeof(row_t *));
    }
    st->rows[st->n_rows++] = r;
}

static char *put(char **at, const char *text, size_t len)
{
    char *p = *at;
    memcpy(p, text, len);
    p[len] = '\0';
    *at += len + 1;
    return p;
}

void ins_row_stage(const char *tenant, const ins_item_t *it, const char *id)
{
    size_t meta = it->metadata ? strlen(it->metadata) : 0;
    size_t text = it->event_type_len + it->content_len + it->idem_len + meta + it->search_len + 5;
    row_t *r = cn_malloc(sizeof(*r) + text);
    snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
    memcpy(r->id, id, CN_UUID_LEN + 1);
    r->item = *it;
    r->item.customer_id = r->item.customer_buf;
    char *at = r->text;
    r->item.event_type = put(&at, it->event_type, it->event_type_len);
    r->item.content = it->content ? put(&at, it->content, it->content_len) : NULL;
    r->item.idem = it->idem ? put(&at, it->idem, it->idem_len) : NULL;
    r->item.metadata = it->metadata ? put(&at, it->metadata, meta) : NULL;
    r->item.search = put(&at, it->search ? it->search : "", it->search_len);
    add_row(&unit, r);
}

static const char *find_staged(const stage_t *st, const char *tenant, const char *key, size_t len)
{
    for (size_t i = 0; i < st->n_rows; i++) {
        const ins_item_t *it = &st->rows[i]->item;
        if (it->idem != NULL && it->idem_len == len && memcmp(it->idem, key, len) == 0 &&
            strcmp(st->rows[i]->tenant, tenant) == 0)
            return st->rows[i]->id;
    }
    return NULL;
}

const char *ins_row_staged_id(const char *tenant, const char *key, size_t len)
{
    const char *id = find_staged(&unit, tenant, key, len);
    return id ? id : find_staged(&batch, tenant, key, len);
}

static void stage_free(stage_t *st)
{
    cn_buf_free(&st->search);
    free(st->ranges);
    for (size_t i = 0; i < st->n_rows; i++)
        free(st->rows[i]);
    free(st->rows);
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
    for (size_t i = 0; i < unit.n_rows; i++)
        add_row(&batch, unit.rows[i]);
    unit.n_rows = 0; /* moved, not freed */
    stage_free(&unit);
}

static int by_tenant_then_order(const void *a, const void *b)
{
    const row_t *x = *(row_t *const *)a, *y = *(row_t *const *)b;
    int c = strcmp(x->tenant, y->tenant);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* the staged rows, per tenant in staging order, INS_CHUNK at a time */
static int write_rows(cn_store_t *s, cn_err_t *err)
{
    row_t **v = batch.rows;
    size_t n = batch.n_rows;
    for (size_t i = 0; i < n; i++)
        v[i]->order = i;
    if (n > 1)
        qsort(v, n, sizeof(row_t *), by_tenant_then_order);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        const ins_item_t *items[INS_CHUNK];
        const char *ids[INS_CHUNK];
        ins_rows_t rows = {items, ids, 0};
        const char *tenant = v[i]->tenant;
        for (; i < n && rows.n < INS_CHUNK && strcmp(v[i]->tenant, tenant) == 0; i++) {
            items[rows.n] = &v[i]->item;
            ids[rows.n++] = v[i]->id;
        }
        rc = ins_write_rows(s, tenant, &rows, err);
    }
    return rc;
}

/*
 * The search entries of a transaction in one statement: $1 a JSON array of [seq, tenant,
 * body] (PostgreSQL computes the tsvector column itself). Then FTS5's merge step, $1 its
 * pages; PostgreSQL's GIN index has no such work to ask for (its pending list is merged
 * by autovacuum), so it has no merge statement.
 */
const cn_sql_pair_t ins_sql_search_insert = {
    "INSERT INTO interactions_fts (rowid, tenant_id, body)"
    " SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each($1)",
    "INSERT INTO interactions_fts (seq, tenant_id, body)"
    " SELECT CAST(e ->> 0 AS BIGINT), e ->> 1, e ->> 2"
    " FROM jsonb_array_elements(CAST($1 AS JSONB)) AS e"};
const cn_sql_pair_t ins_sql_search_merge = {
    "INSERT INTO interactions_fts (interactions_fts, rank) VALUES ('merge', $1)", NULL};

static int write_search(cn_store_t *s, cn_err_t *err)
{
    if (batch.search.len == 0)
        return 0;
    cn_buf_t json = {0};
    cn_buf_lit(&json, "[");
    cn_buf_append(&json, batch.search.data, batch.search.len);
    cn_buf_lit(&json, "]");
    cn_val_t a[] = {CN_VTEXTN(json.data, json.len)};
    int rc = cn_store_exec(s, cn_store_sql(s, &ins_sql_search_insert), a, 1, NULL, err);
    cn_buf_free(&json);
    const char *merge = cn_store_sql(s, &ins_sql_search_merge);
    if (rc != 0 || merge == NULL)
        return rc;
    /* the index's merge work, in a step sized to what was added (see the header) */
    cn_val_t pages[] = {CN_VINT(SEARCH_MERGE_PAGES + (int64_t)(batch.search.len / 512))};
    return cn_store_exec(s, merge, pages, 1, NULL, err);
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
    int rc = write_rows(s, err);
    release_unit(); /* the rows' search entries and analysis */
    if (rc == 0)
        rc = write_search(s, err);
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
