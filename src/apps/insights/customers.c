/*
 * Customers: created by their first interaction (or by PUT), keyed by the tenant's own
 * id. Their counters are kept by ingest and analysis; the profile adds the breakdowns
 * and the most recent interactions, read through the customer's own index.
 */
#include "apps/insights/internal.h"
#include "core/events.h"
#include "core/jobs.h"
#include "core/page.h"
#include "lib/formats.h"

#include <stdlib.h>
#include <string.h>

#define RECENT 10

static const cn_field_t param_fields[] = {
    {"id", CN_T_STRING, .format = CN_FMT_UUID, .description = "The tenant's own customer id"},
    {0},
};
const cn_schema_t ins_customer_param = {"CustomerId", param_fields};

static const cn_field_t customer_fields[] = {
    {"email", CN_T_STRING, .nullable = 1, .format = CN_FMT_EMAIL, .max_len = 254},
    {"segment", CN_T_STRING, .nullable = 1, .min_len = 1, .max_len = INS_SEGMENT_MAX,
     .single_line = 1, .description = "Free label used by the segments filters (\"enterprise\")"},
    {"metadata", CN_T_OBJECT, .description = "Free JSON (at most 16 KiB)"},
    {0},
};
const cn_schema_t ins_customer_schema = {"CustomerUpdate", customer_fields};

static const cn_field_t list_fields[] = {
    {"segment", CN_T_STRING, .min_len = 1, .max_len = 64},
    {"limit", CN_T_INTEGER, .has_min = 1, .min = 1, .has_max = 1, .max = CN_PAGE_MAX,
     .description = "Page size (default 50)"},
    {"cursor", CN_T_STRING, .max_len = 128, .description = "next_cursor of the previous page"},
    {0},
};
const cn_schema_t ins_customers_query = {"CustomerListQuery", list_fields};

#define CUSTOMER_COLUMNS                                                                           \
    "external_id, email, segment, metadata, first_seen, last_seen, interaction_count,"             \
    " sentiment_count, average_sentiment, created_at, updated_at"

/* the customer's fields, inside an object the caller opened */
static void write_customer_fields(cn_jw_t *w, cn_stmt_t *st)
{
    size_t len;
    cn_jw_key(w, "id");
    ins_jw_text_col(w, st, 0);
    cn_jw_key(w, "email");
    ins_jw_text_col(w, st, 1);
    cn_jw_key(w, "segment");
    ins_jw_text_col(w, st, 2);
    cn_jw_key(w, "metadata");
    const char *md = cn_stmt_text(st, 3, &len);
    cn_jw_raw(w, md ? md : "{}", md ? len : 2);
    cn_jw_key(w, "first_seen");
    ins_jw_time_col(w, st, 4);
    cn_jw_key(w, "last_seen");
    ins_jw_time_col(w, st, 5);
    cn_jw_key(w, "interaction_count");
    cn_jw_int(w, cn_stmt_int(st, 6));
    cn_jw_key(w, "analysed_count");
    cn_jw_int(w, cn_stmt_int(st, 7));
    cn_jw_key(w, "average_sentiment");
    if (cn_stmt_is_null(st, 8))
        cn_jw_null(w);
    else
        cn_jw_real(w, cn_stmt_real(st, 8));
    cn_jw_key(w, "created_at");
    ins_jw_time_col(w, st, 9);
    cn_jw_key(w, "updated_at");
    ins_jw_time_col(w, st, 10);
}

int ins_list_customers(cn_req_t *r)
{
    cn_cached_req_t cached;
    if (ins_cache_lookup(r, &cached) == CN_CACHE_HIT)
        return cn_reply_json_buf(r, 200);
    cn_page_t page;
    int rc = cn_page_begin(r, &page);
    if (rc != 0)
        return rc;
    const char *segment = json_string_value(json_object_get(r->query, "segment"));
    cn_val_t a[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(page.after), CN_VINT(page.limit + 1),
                    segment ? CN_VTEXT(segment) : CN_VNULL};
    cn_stmt_t *st;
    rc = segment ? cn_store_query(r->store,
                                  "SELECT " CUSTOMER_COLUMNS " FROM customers WHERE tenant_id = $1"
                                  " AND segment = $4 AND external_id > $2"
                                  " ORDER BY external_id LIMIT $3",
                                  a, 4, &st, &r->err)
                 : cn_store_query(r->store,
                                  "SELECT " CUSTOMER_COLUMNS " FROM customers WHERE tenant_id = $1"
                                  " AND external_id > $2 ORDER BY external_id LIMIT $3",
                                  a, 3, &st, &r->err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW && cn_page_room(&page)) {
        size_t len;
        const char *id = cn_stmt_text(st, 0, &len);
        cn_jw_object(&page.w);
        write_customer_fields(&page.w, st);
        cn_jw_end(&page.w);
        cn_page_item(&page, id, len);
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    cn_page_end_items(&page);
    cn_jw_end(&page.w);
    cn_cache_answer(r, &cached, page.w.b, INS_TTL_PROFILE);
    return cn_reply_json_buf(r, 200);
}

/* {"web": n, ...} and {"positive": n, ..., "not_analysed": n} over the customer's history */
static int write_breakdowns(cn_req_t *r, cn_jw_t *w, const char *customer)
{
    cn_val_t a[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(customer)};
    cn_stmt_t *st;
    int rc =
        cn_store_query(r->store,
                       "SELECT channel, sentiment, COUNT(*) FROM interactions"
                       " WHERE tenant_id = $1 AND customer_id = $2 GROUP BY channel, sentiment",
                       a, 2, &st, &r->err);
    if (rc != 0)
        return rc;
    int64_t ch[5] = {0}, label[4] = {0};
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        size_t len;
        const char *c = cn_stmt_text(st, 0, &len), *l = cn_stmt_text(st, 1, NULL);
        int i = ins_channel_index(c, len);
        int64_t k = cn_stmt_int(st, 2);
        if (i >= 0)
            ch[i] += k;
        label[l == NULL ? 3 : l[0] == 'p' ? 0 : l[2] == 'u' ? 1 : 2] += k;
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    static const char *const labels[] = {"positive", "neutral", "negative", "not_analysed"};
    cn_jw_key(w, "channels");
    cn_jw_object(w);
    for (int i = 0; i < 5; i++) {
        cn_jw_key(w, ins_channels[i]);
        cn_jw_int(w, ch[i]);
    }
    cn_jw_end(w);
    cn_jw_key(w, "sentiment");
    cn_jw_object(w);
    for (int i = 0; i < 4; i++) {
        cn_jw_key(w, labels[i]);
        cn_jw_int(w, label[i]);
    }
    cn_jw_end(w);
    return 0;
}

static int write_recent(cn_req_t *r, cn_jw_t *w, const char *customer)
{
    cn_val_t a[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(customer), CN_VINT(RECENT)};
    cn_stmt_t *st;
    int rc = cn_store_query(r->store,
                            "SELECT " INS_COLUMNS " FROM interactions WHERE tenant_id = $1"
                            " AND customer_id = $2 ORDER BY ts DESC, seq DESC LIMIT $3",
                            a, 3, &st, &r->err);
    if (rc != 0)
        return rc;
    cn_jw_key(w, "recent_interactions");
    cn_jw_array(w);
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW)
        ins_write_row(w, st);
    cn_stmt_finish(st);
    cn_jw_end(w);
    return rc < 0 ? rc : 0;
}

int ins_get_customer(cn_req_t *r)
{
    cn_cached_req_t cached;
    if (ins_cache_lookup(r, &cached) == CN_CACHE_HIT)
        return cn_reply_json_buf(r, 200);
    char lower[CN_UUID_LEN + 1];
    const char *id = ins_customer_key(cn_req_param(r, "id"), lower);
    cn_val_t a[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(id)};
    cn_stmt_t *st;
    int rc = cn_store_query(r->store,
                            "SELECT " CUSTOMER_COLUMNS " FROM customers"
                            " WHERE tenant_id = $1 AND external_id = $2",
                            a, 2, &st, &r->err);
    if (rc != 0)
        return rc;
    cn_buf_t *b = cn_reply_buffer(r);
    cn_jw_t w;
    cn_jw_init(&w, b);
    if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        cn_jw_object(&w);
        write_customer_fields(&w, st);
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    if (rc != CN_ROW)
        return cn_fail(r, CN_ENOTFOUND, "no customer with this id");
    if ((rc = write_breakdowns(r, &w, id)) != 0 || (rc = write_recent(r, &w, id)) != 0)
        return rc;
    cn_jw_end(&w);
    cn_cache_answer(r, &cached, b, INS_TTL_PROFILE);
    return cn_reply_json_buf(r, 200);
}

/* ---- segment changes ---- */

/* A customer whose counts sit under another segment than its own gets a job to move them:
 * the move reads the customer's whole history, so it does not run on the event loop. */
static int resegment_later(cn_store_t *s, const char *tenant, const char *id, cn_err_t *err)
{
    cn_val_t a[] = {CN_VTEXT(tenant), CN_VTEXT(id)};
    int rc = cn_store_exists(s,
                             "SELECT 1 FROM customers WHERE tenant_id = $1 AND external_id = $2"
                             " AND rollup_segment IS DISTINCT FROM segment",
                             a, 2, err);
    if (rc == CN_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    json_t *payload = json_pack("{s:s}", "customer_id", id);
    cn_job_opts_t opts = {.tenant_id = tenant};
    rc = cn_jobs_enqueue(s, "insights.resegment", payload, &opts, NULL, err);
    json_decref(payload);
    return rc;
}

typedef struct {
    ins_rollup_t *t;
    size_t n, cap;
} rollups_t;

static ins_rollup_t *rollups_push(rollups_t *v, int64_t bucket, int channel)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 256;
        v->t = cn_realloc(v->t, v->cap * sizeof(*v->t));
    }
    v->t[v->n] = (ins_rollup_t){.bucket = bucket, .channel = channel};
    return &v->t[v->n++];
}

/* The customer's counts per (slot, channel) and per slot for all channels, from its
 * interactions (the customer + time index: one customer's history). */
static int customer_rollups(cn_store_t *s, const char *tenant, const char *id, rollups_t *v,
                            cn_err_t *err)
{
    cn_val_t a[] = {CN_VTEXT(tenant), CN_VTEXT(id), CN_VINT(INS_ROLLUP_MS)};
    cn_stmt_t *st;
    int rc = cn_store_query(s,
                            "SELECT ts - ts % $3, channel, COUNT(*), COUNT(processed_at),"
                            " COUNT(CASE WHEN sentiment = 'positive' THEN 1 END),"
                            " COUNT(CASE WHEN sentiment = 'neutral' THEN 1 END),"
                            " COUNT(CASE WHEN sentiment = 'negative' THEN 1 END),"
                            " COALESCE(SUM(s_compound), 0) FROM interactions"
                            " WHERE tenant_id = $1 AND customer_id = $2 GROUP BY 1, 2 ORDER BY 1",
                            a, CN_ARRAY_SIZE(a), &st, err);
    if (rc != 0)
        return rc;
    ins_rollup_t all = {.bucket = INT64_MIN};
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        size_t len;
        const char *ch = cn_stmt_text(st, 1, &len);
        int c = ins_channel_index(ch, len);
        int64_t bucket = cn_stmt_int(st, 0);
        if (c < 0)
            continue;
        if (bucket != all.bucket && all.bucket != INT64_MIN)
            *rollups_push(v, 0, 0) = all;
        if (bucket != all.bucket)
            all = (ins_rollup_t){.bucket = bucket, .channel = INS_ALL};
        ins_rollup_t *e = rollups_push(v, bucket, c);
        e->interactions = cn_stmt_int(st, 2);
        e->processed = cn_stmt_int(st, 3);
        for (int l = 0; l < 3; l++)
            e->labels[l] = cn_stmt_int(st, 4 + l);
        e->compound_sum = cn_stmt_real(st, 7);
        all.interactions += e->interactions;
        all.processed += e->processed;
        for (int l = 0; l < 3; l++)
            all.labels[l] += e->labels[l];
        all.compound_sum += e->compound_sum;
    }
    cn_stmt_finish(st);
    if (rc == CN_DONE && all.bucket != INT64_MIN)
        *rollups_push(v, 0, 0) = all;
    return rc < 0 ? rc : 0;
}

/* the entries under segment, their counts negated when out (moving out of it) */
static void rollups_as(rollups_t *v, const char *segment, int out)
{
    for (size_t i = 0; i < v->n; i++) {
        ins_rollup_t *e = &v->t[i];
        e->segment = segment;
        if ((e->interactions < 0) == out) /* each entry counts at least one interaction */
            continue;                     /* the sign asked for already */
        e->interactions = -e->interactions;
        e->processed = -e->processed;
        for (int l = 0; l < 3; l++)
            e->labels[l] = -e->labels[l];
        e->compound_sum = -e->compound_sum;
    }
}

/* On PostgreSQL the row is locked until the move commits: an analysis of the customer's
 * interactions (which locks it too) then either committed before, and its scores are in
 * the history read next, or waits and adds to the segment the move leaves. */
static const cn_sql_pair_t read_segments = {
    .sqlite = "SELECT rollup_segment, segment FROM customers"
              " WHERE tenant_id = $1 AND external_id = $2",
    .postgres = "SELECT rollup_segment, segment FROM customers"
                " WHERE tenant_id = $1 AND external_id = $2 FOR UPDATE"};

/* The segment the customer's counts sit under (from) and its own (to), "" for none, both
 * with room for INS_SEGMENT_BYTES. CN_ENOTFOUND when there is no such customer. */
static int customer_segments(cn_store_t *s, const cn_val_t a[2], char *from, char *to,
                             cn_err_t *err)
{
    cn_stmt_t *st;
    int rc = cn_store_query(s, cn_store_sql(s, &read_segments), a, 2, &st, err);
    if (rc != 0)
        return rc;
    rc = cn_stmt_step(st, err);
    if (rc == CN_ROW) {
        char *out[2] = {from, to};
        rc = 0;
        for (int col = 0; col < 2 && rc == 0; col++) {
            size_t len;
            const char *v = cn_stmt_text(st, col, &len);
            rc = ins_segment_copy(v, len, out[col], err);
        }
    }
    cn_stmt_finish(st);
    return rc == CN_DONE ? CN_ENOTFOUND : rc;
}

/* Moves the customer's counts from the segment they sit under to its own, in the job's
 * transaction: ingest and analysis add to the segment they read in theirs, so the counts
 * stay exact whatever runs in between. */
int ins_run_resegment(cn_job_t *job, cn_err_t *err)
{
    const char *id = json_string_value(json_object_get(job->payload, "customer_id"));
    if (id == NULL || job->tenant_id == NULL || strlen(id) > CN_UUID_LEN)
        return cn_err_set(err, CN_EINVAL, "payload: customer_id and a tenant are required");
    char from[INS_SEGMENT_BYTES + 1] = "", to[INS_SEGMENT_BYTES + 1] = "";
    cn_val_t a[] = {CN_VTEXT(job->tenant_id), CN_VTEXT(id)};
    int rc = customer_segments(job->store, a, from, to, err);
    if (rc == CN_ENOTFOUND || (rc == 0 && strcmp(from, to) == 0))
        return 0; /* gone, or moved already */
    rollups_t v = {0};
    if (rc == 0)
        rc = customer_rollups(job->store, job->tenant_id, id, &v, err);
    if (rc == 0 && from[0]) {
        rollups_as(&v, from, 1);
        rc = ins_rollups_add(job->store, job->tenant_id, v.t, v.n, err);
    }
    if (rc == 0 && to[0]) {
        rollups_as(&v, to, 0);
        rc = ins_rollups_add(job->store, job->tenant_id, v.t, v.n, err);
    }
    free(v.t);
    if (rc == 0)
        rc = cn_store_exec(job->store,
                           "UPDATE customers SET rollup_segment = segment"
                           " WHERE tenant_id = $1 AND external_id = $2",
                           a, 2, NULL, err);
    if (rc != 0)
        return rc;
    char data[128]; /* the aggregates changed: cached answers go */
    int n = snprintf(data, sizeof(data), "{\"items\":[{\"customer_id\":\"%s\"}]}", id);
    return cn_event_publish_text(job->store, job->tenant_id, INS_CHANNEL, "customer.updated", data,
                                 (size_t)n, err);
}

/* ---- changes ---- */

int ins_put_customer(cn_req_t *r)
{
    char lower[CN_UUID_LEN + 1];
    const char *id = ins_customer_key(cn_req_param(r, "id"), lower);
    json_t *email = json_object_get(r->body, "email"),
           *segment = json_object_get(r->body, "segment");
    json_t *md = json_object_get(r->body, "metadata");
    char *md_text = md ? json_dumps(md, JSON_COMPACT) : NULL;
    if (md_text && strlen(md_text) > INS_METADATA_MAX) {
        free(md_text);
        return cn_fail_field(r, "metadata", "must serialise to at most 16384 bytes");
    }
    int64_t now = cn_now_ms();
    /* a field left out keeps its value; null clears email and segment */
    cn_val_t a[] = {CN_VTEXT(cn_req_tenant(r)),
                    CN_VTEXT(id),
                    json_is_string(email) ? CN_VTEXT(json_string_value(email)) : CN_VNULL,
                    json_is_string(segment) ? CN_VTEXT(json_string_value(segment)) : CN_VNULL,
                    md_text ? CN_VTEXT(md_text) : CN_VTEXT("{}"),
                    CN_VINT(now),
                    CN_VINT(email != NULL),
                    CN_VINT(segment != NULL),
                    CN_VINT(md != NULL)};
    int rc = cn_store_exec(
        r->store,
        "INSERT INTO customers (tenant_id, external_id, email, segment, rollup_segment, metadata,"
        " created_at, updated_at) VALUES ($1, $2, $3, $4, $4, $5, $6, $6)"
        " ON CONFLICT (tenant_id, external_id) DO UPDATE SET"
        " email = CASE WHEN $7 = 1 THEN excluded.email ELSE customers.email END,"
        " segment = CASE WHEN $8 = 1 THEN excluded.segment ELSE customers.segment END,"
        /* nothing counted yet: nothing to move */
        " rollup_segment = CASE WHEN customers.interaction_count > 0"
        " THEN customers.rollup_segment WHEN $8 = 1 THEN excluded.segment"
        " ELSE customers.segment END,"
        " metadata = CASE WHEN $9 = 1 THEN excluded.metadata ELSE customers.metadata END,"
        " updated_at = excluded.updated_at",
        a, CN_ARRAY_SIZE(a), NULL, &r->err);
    free(md_text);
    if (rc != 0 || (rc = resegment_later(r->store, cn_req_tenant(r), id, &r->err)) != 0)
        return rc;
    char data[128];
    int n = snprintf(data, sizeof(data), "{\"items\":[{\"customer_id\":\"%s\"}]}", id);
    if ((rc = cn_event_publish_text(r->store, cn_req_tenant(r), INS_CHANNEL, "customer.updated",
                                    data, (size_t)n, &r->err)) != 0)
        return rc; /* the kernel rolls the change back with the failed request */
    cn_val_t g[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(id)};
    cn_stmt_t *st;
    if ((rc = cn_store_query(r->store,
                             "SELECT " CUSTOMER_COLUMNS " FROM customers"
                             " WHERE tenant_id = $1 AND external_id = $2",
                             g, 2, &st, &r->err)) != 0)
        return rc;
    cn_jw_t w;
    cn_jw_init(&w, cn_reply_buffer(r));
    if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        cn_jw_object(&w);
        write_customer_fields(&w, st);
        cn_jw_end(&w);
    }
    cn_stmt_finish(st);
    return rc == CN_ROW ? cn_reply_json_buf(r, 200) : rc < 0 ? rc : CN_ERR;
}
