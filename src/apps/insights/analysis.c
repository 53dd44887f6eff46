/*
 * Sentiment and behaviour patterns. VADER (src/lib/vader.c) scores texts for the API and
 * for the analysis job, which takes one ingested chunk at a time: it scores each
 * interaction, folds the scores into the customer's average and the trend rollups, and
 * publishes sentiment.analyzed, all in the job's own transaction (so exactly once). It
 * then schedules the customer's pattern detection, debounced: many interactions in a
 * short time cost one detection run.
 */
#include "apps/insights/internal.h"
#include "core/events.h"
#include "lib/patterns.h"
#include "lib/vader.h"

#include <math.h>
#include <string.h>

static int64_t pattern_delay_ms = 60000;

void ins_set_pattern_delay(int64_t ms)
{
    pattern_delay_ms = ms;
}

/* ---- the sentiment API ---- */

static const cn_field_t sentiment_fields[] = {
    {"text", CN_T_STRING, .required = 1, .min_len = 1, .max_len = INS_CONTENT_MAX},
    {0},
};
const cn_schema_t ins_sentiment_schema = {"SentimentRequest", sentiment_fields};

static const cn_field_t text_item = {"text", CN_T_STRING, .min_len = 1, .max_len = INS_CONTENT_MAX};
static const cn_field_t sentiment_batch_fields[] = {
    {"texts", CN_T_ARRAY, .required = 1, .min_len = 1, .max_len = 256, .items = &text_item},
    {0},
};
const cn_schema_t ins_sentiment_batch_schema = {"SentimentBatchRequest", sentiment_batch_fields};

typedef struct {
    cn_vader_scores_t s;
    const char *label;
    double confidence;
} scored_t;

static scored_t score(const char *text, size_t len)
{
    scored_t r;
    /* the reference's numbers, unchanged: shares rounded one by one (their sum may be 0.999
     * or 1.001) and all zeros for a text without words; clients compare them with it */
    cn_vader_score(text, len, &r.s);
    r.label = cn_vader_label(r.s.compound);
    r.confidence = cn_vader_confidence(&r.s);
    return r;
}

static void write_scores(cn_jw_t *w, const scored_t *r)
{
    cn_jw_object(w);
    cn_jw_key(w, "label");
    cn_jw_str(w, r->label, strlen(r->label));
    cn_jw_key(w, "compound");
    cn_jw_real(w, r->s.compound);
    cn_jw_key(w, "pos");
    cn_jw_real(w, r->s.pos);
    cn_jw_key(w, "neu");
    cn_jw_real(w, r->s.neu);
    cn_jw_key(w, "neg");
    cn_jw_real(w, r->s.neg);
    cn_jw_key(w, "confidence");
    cn_jw_real(w, r->confidence);
    cn_jw_end(w);
}

int ins_sentiment_one(cn_req_t *r)
{
    json_t *t = json_object_get(r->body, "text");
    scored_t s = score(json_string_value(t), json_string_length(t));
    cn_jw_t w;
    cn_jw_init(&w, cn_reply_buffer(r));
    write_scores(&w, &s);
    return cn_reply_json_buf(r, 200);
}

int ins_sentiment_batch(cn_req_t *r)
{
    json_t *texts = json_object_get(r->body, "texts"), *t;
    size_t i;
    cn_jw_t w;
    cn_jw_init(&w, cn_reply_buffer(r));
    cn_jw_object(&w);
    cn_jw_key(&w, "results");
    cn_jw_array(&w);
    json_array_foreach(texts, i, t)
    {
        scored_t s = score(json_string_value(t), json_string_length(t));
        write_scores(&w, &s);
    }
    cn_jw_end(&w);
    cn_jw_end(&w);
    return cn_reply_json_buf(r, 200);
}

/* ---- the analysis job ---- */

int ins_enqueue_analysis(cn_store_t *s, const char *tenant, int64_t first, int64_t last,
                         cn_err_t *err)
{
    json_t *payload = json_pack("{s:I, s:I}", "first", (json_int_t)first, "last", (json_int_t)last);
    cn_job_opts_t opts = {.tenant_id = tenant};
    int rc = cn_jobs_enqueue(s, "insights.analyse", payload, &opts, NULL, err);
    json_decref(payload);
    return rc;
}

/* one analysed interaction of the chunk */
typedef struct {
    int64_t seq, ts;
    int channel;
    char id[CN_UUID_LEN + 1], customer[CN_UUID_LEN + 1];
    char segment[INS_SEGMENT_BYTES + 1]; /* the customer's rollup_segment; "": none */
    int scored;                          /* 0: no content, nothing to score */
    scored_t r;
} analysed_t;

/*
 * The segment a customer's counts sit under may move (the resegment job) while a chunk is
 * analysed. With one writer (SQLite) nothing runs in between. On PostgreSQL the chunk's
 * customers are locked first, in key order as ingest locks them, so the segment read next
 * is the one the move committed, or the move waits and then finds these scores in the
 * history it moves.
 */
static const cn_sql_pair_t lock_customers = {
    .postgres = "SELECT 1 FROM customers WHERE tenant_id = $1 AND external_id IN"
                " (SELECT customer_id FROM interactions WHERE seq BETWEEN $2 AND $3"
                " AND processed_at IS NULL) ORDER BY external_id FOR UPDATE"};

static int load_chunk(cn_job_t *job, int64_t first, int64_t last, analysed_t *out, size_t *n,
                      cn_err_t *err)
{
    const char *lock = cn_store_sql(job->store, &lock_customers);
    if (lock != NULL) {
        cn_val_t l[] = {CN_VTEXT(job->tenant_id), CN_VINT(first), CN_VINT(last)};
        int rc = cn_store_exec(job->store, lock, l, 3, NULL, err);
        if (rc != 0)
            return rc;
    }
    /* by the row id range alone: with tenant_id in the WHERE clause the planner prefers a
     * tenant index and walks all of the tenant's rows; the tenant is checked here instead */
    cn_val_t a[] = {CN_VINT(first), CN_VINT(last)};
    cn_stmt_t *st;
    int rc = cn_store_query(job->store,
                            "SELECT seq, id, customer_id, ts, channel, content, tenant_id,"
                            " (SELECT rollup_segment FROM customers c"
                            " WHERE c.tenant_id = interactions.tenant_id"
                            " AND c.external_id = interactions.customer_id)"
                            " FROM interactions WHERE seq BETWEEN $1 AND $2"
                            " AND processed_at IS NULL ORDER BY seq",
                            a, 2, &st, err);
    if (rc != 0)
        return rc;
    *n = 0;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW && *n < INS_CHUNK) {
        const char *tenant = cn_stmt_text(st, 6, NULL);
        if (tenant == NULL || strcmp(tenant, job->tenant_id) != 0)
            continue; /* a chunk is one tenant's: never touch another tenant's rows */
        analysed_t *x = &out[(*n)++];
        size_t len;
        x->seq = cn_stmt_int(st, 0);
        snprintf(x->id, sizeof(x->id), "%s", cn_stmt_text(st, 1, NULL));
        snprintf(x->customer, sizeof(x->customer), "%s", cn_stmt_text(st, 2, NULL));
        x->ts = cn_stmt_int(st, 3);
        const char *ch = cn_stmt_text(st, 4, &len);
        x->channel = ins_channel_index(ch, len);
        const char *content = cn_stmt_text(st, 5, &len);
        x->scored = content != NULL && len > 0;
        if (x->scored)
            x->r = score(content, len);
        const char *segment = cn_stmt_text(st, 7, &len);
        if ((rc = ins_segment_copy(segment, len, x->segment, err)) != 0)
            break;
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : 0;
}

static int save_scores(cn_store_t *s, const analysed_t *v, size_t n, int64_t now, cn_err_t *err)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const scored_t *r = &v[i].r;
        cn_val_t a[] = {CN_VINT(v[i].seq),
                        v[i].scored ? CN_VTEXT(r->label) : CN_VNULL,
                        v[i].scored ? CN_VREAL(r->s.pos) : CN_VNULL,
                        v[i].scored ? CN_VREAL(r->s.neu) : CN_VNULL,
                        v[i].scored ? CN_VREAL(r->s.neg) : CN_VNULL,
                        v[i].scored ? CN_VREAL(r->s.compound) : CN_VNULL,
                        v[i].scored ? CN_VREAL(r->confidence) : CN_VNULL,
                        CN_VINT(now)};
        rc = cn_store_exec(s,
                           "UPDATE interactions SET sentiment = $2, s_pos = $3, s_neu = $4,"
                           " s_neg = $5, s_compound = $6, s_confidence = $7, processed_at = $8"
                           " WHERE seq = $1",
                           a, CN_ARRAY_SIZE(a), NULL, err);
    }
    return rc;
}

/* one customer's scores in a chunk */
typedef struct {
    const char *customer;
    double sum;
    int64_t count;
} fold_t;

static int by_fold_customer(const void *a, const void *b)
{
    return strcmp(((const fold_t *)a)->customer, ((const fold_t *)b)->customer);
}

/* Folds the chunk's scores into each customer's running average, one write per customer,
 * in key order: concurrent transactions (ingest, other nodes on PostgreSQL) then lock
 * shared customer rows in one order and cannot deadlock. */
static int fold_customers(cn_store_t *s, const char *tenant, const analysed_t *v, size_t n,
                          cn_err_t *err)
{
    fold_t f[INS_CHUNK];
    size_t nf = 0;
    for (size_t i = 0; i < n && i < INS_CHUNK; i++) {
        if (!v[i].scored)
            continue;
        size_t j = 0;
        while (j < nf && strcmp(f[j].customer, v[i].customer) != 0)
            j++;
        if (j == nf)
            f[nf++] = (fold_t){.customer = v[i].customer};
        f[j].sum += v[i].r.s.compound;
        f[j].count++;
    }
    if (nf > 1)
        qsort(f, nf, sizeof(f[0]), by_fold_customer);
    int rc = 0;
    for (size_t j = 0; j < nf && rc == 0; j++) {
        cn_val_t a[] = {CN_VTEXT(tenant), CN_VTEXT(f[j].customer), CN_VREAL(f[j].sum),
                        CN_VINT(f[j].count)};
        rc = cn_store_exec(s,
                           "UPDATE customers SET sentiment_sum = sentiment_sum + $3,"
                           " sentiment_count = sentiment_count + $4,"
                           " average_sentiment = (sentiment_sum + $3) / (sentiment_count + $4)"
                           " WHERE tenant_id = $1 AND external_id = $2",
                           a, 4, NULL, err);
    }
    return rc;
}

static void fold_one(ins_rollup_t *f, const analysed_t *x)
{
    f->processed++;
    if (!x->scored)
        return;
    const char *label = x->r.label;
    f->labels[label[0] == 'p' ? 0 : label[0] == 'n' && label[2] == 'u' ? 1 : 2]++;
    f->compound_sum += x->r.s.compound;
}

/* Adds the chunk's outcome to the rollups: one write per (bucket, channel) and per bucket
 * for all channels together, for all customers and for each customer's segment. */
static int fold_rollups(cn_store_t *s, const char *tenant, const analysed_t *v, size_t n,
                        cn_err_t *err)
{
    ins_rollup_t t[INS_ROLLUP_ENTRIES];
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        const char *segment = v[i].segment[0] ? v[i].segment : NULL;
        fold_one(ins_rollup_entry(t, &nt, v[i].ts, v[i].channel, NULL), &v[i]);
        fold_one(ins_rollup_entry(t, &nt, v[i].ts, INS_ALL, NULL), &v[i]);
        if (segment) {
            fold_one(ins_rollup_entry(t, &nt, v[i].ts, v[i].channel, segment), &v[i]);
            fold_one(ins_rollup_entry(t, &nt, v[i].ts, INS_ALL, segment), &v[i]);
        }
    }
    return ins_rollups_add(s, tenant, t, nt, err);
}

/* sentiment.analyzed: items {id, customer_id, sentiment: {...} | null} */
static int publish_analysed(cn_store_t *s, const char *tenant, const analysed_t *v, size_t n,
                            cn_err_t *err)
{
    cn_buf_t b = {0};
    cn_jw_t w;
    ins_items_open(&w, &b, n);
    for (size_t i = 0; i < n; i++) {
        cn_jw_object(&w);
        cn_jw_key(&w, "id");
        cn_jw_str(&w, v[i].id, strlen(v[i].id));
        cn_jw_key(&w, "customer_id");
        cn_jw_str(&w, v[i].customer, strlen(v[i].customer));
        cn_jw_key(&w, "sentiment");
        if (v[i].scored)
            write_scores(&w, &v[i].r);
        else
            cn_jw_null(&w);
        cn_jw_end(&w);
    }
    return ins_items_publish(s, tenant, "sentiment.analyzed", &w, err);
}

/* One detection per customer per delay window, run when the window closes. */
static int schedule_patterns(cn_store_t *s, const char *tenant, const analysed_t *v, size_t n,
                             int64_t now, cn_err_t *err)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(v[j].customer, v[i].customer) == 0;
        if (seen)
            continue;
        char key[160];
        cn_job_opts_t opts = {.tenant_id = tenant};
        if (pattern_delay_ms > 0) {
            int64_t slot = now / pattern_delay_ms;
            snprintf(key, sizeof(key), "%s:%s:%lld", tenant, v[i].customer, (long long)slot);
            opts.unique_key = key;
            opts.run_at_ms = (slot + 1) * pattern_delay_ms;
        }
        json_t *payload = json_pack("{s:s}", "customer_id", v[i].customer);
        rc = cn_jobs_enqueue(s, "insights.patterns", payload, &opts, NULL, err);
        json_decref(payload);
    }
    return rc;
}

int ins_run_analysis(cn_job_t *job, cn_err_t *err)
{
    json_t *first = json_object_get(job->payload, "first");
    json_t *last = json_object_get(job->payload, "last");
    if (!json_is_integer(first) || !json_is_integer(last) || job->tenant_id == NULL)
        return cn_err_set(err, CN_EINVAL, "payload: first, last and a tenant are required");
    analysed_t *v = cn_malloc(sizeof(analysed_t) * INS_CHUNK);
    size_t n = 0;
    int64_t now = cn_now_ms();
    int rc = load_chunk(job, json_integer_value(first), json_integer_value(last), v, &n, err);
    if (rc == 0 && n > 0 && (rc = save_scores(job->store, v, n, now, err)) == 0 &&
        (rc = fold_customers(job->store, job->tenant_id, v, n, err)) == 0 &&
        (rc = fold_rollups(job->store, job->tenant_id, v, n, err)) == 0 &&
        (rc = publish_analysed(job->store, job->tenant_id, v, n, err)) == 0)
        rc = schedule_patterns(job->store, job->tenant_id, v, n, now, err);
    free(v);
    return rc;
}

/* ---- behaviour patterns ---- */

#define HISTORY_MAX 100000 /* interactions of one customer read for one detection */

static int load_history(cn_store_t *s, const char *tenant, const char *customer, int64_t now,
                        cn_tz_t *tz, cn_interaction_t **out, size_t *n, cn_err_t *err)
{
    cn_val_t a[] = {CN_VTEXT(tenant), CN_VTEXT(customer), CN_VINT(now - CN_PATTERNS_WINDOW_MS),
                    CN_VINT(HISTORY_MAX)};
    cn_stmt_t *st;
    int rc = cn_store_query(s,
                            "SELECT ts, channel, s_compound FROM interactions"
                            " WHERE tenant_id = $1 AND customer_id = $2 AND ts >= $3"
                            " ORDER BY ts DESC LIMIT $4",
                            a, 4, &st, err);
    if (rc != 0)
        return rc;
    size_t cap = 256; /* the newest HISTORY_MAX of the window, read newest first */
    cn_interaction_t *v = cn_malloc(cap * sizeof(*v));
    *n = 0;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        if (*n == cap)
            v = cn_realloc(v, (cap *= 2) * sizeof(*v));
        cn_interaction_t *it = &v[(*n)++];
        size_t len;
        const char *ch = cn_stmt_text(st, 1, &len);
        it->at_ms = cn_stmt_int(st, 0);
        it->channel = ins_channel_index(ch, len);
        it->has_sentiment = !cn_stmt_is_null(st, 2);
        it->compound = it->has_sentiment ? cn_stmt_real(st, 2) : 0;
        cn_interaction_set_local_time(it, it->at_ms + cn_tz_offset_ms(tz, it->at_ms));
    }
    cn_stmt_finish(st);
    for (size_t i = 0; i < *n / 2; i++) { /* newest first -> oldest first */
        cn_interaction_t t = v[i];
        v[i] = v[*n - 1 - i];
        v[*n - 1 - i] = t;
    }
    *out = v;
    return rc < 0 ? rc : 0;
}

static void pattern_metadata(cn_buf_t *b, const cn_pattern_t *p)
{
    cn_jw_t w;
    cn_jw_init(&w, b);
    cn_jw_object(&w);
    for (size_t i = 0; i < p->n_meta; i++) {
        const cn_pattern_meta_t *m = &p->meta[i];
        cn_jw_key(&w, m->key);
        if (m->kind == CN_META_TEXT)
            cn_jw_str(&w, m->text, strlen(m->text));
        else if (m->kind == CN_META_INT)
            cn_jw_int(&w, m->integer);
        else
            cn_jw_real(&w, m->real);
    }
    cn_jw_end(&w);
}

static int save_patterns(cn_store_t *s, const char *tenant, const char *customer,
                         const cn_pattern_t *p, int n, int64_t now, cn_err_t *err)
{
    cn_val_t d[] = {CN_VTEXT(tenant), CN_VTEXT(customer)};
    int rc =
        cn_store_exec(s, "DELETE FROM behavior_patterns WHERE tenant_id = $1 AND customer_id = $2",
                      d, 2, NULL, err);
    cn_buf_t meta = {0};
    for (int i = 0; i < n && rc == 0; i++) {
        meta.len = 0;
        pattern_metadata(&meta, &p[i]);
        const char *type = cn_pattern_type_name(p[i].type);
        const char *channel = p[i].channel >= 0 ? ins_channels[p[i].channel] : "";
        cn_val_t a[] = {CN_VTEXT(tenant),
                        CN_VTEXT(customer),
                        CN_VTEXT(type),
                        CN_VTEXT(channel),
                        CN_VREAL(p[i].confidence),
                        CN_VREAL(p[i].frequency),
                        CN_VTEXT(p[i].description),
                        CN_VTEXTN(meta.data, meta.len),
                        CN_VINT(now),
                        CN_VINT(cn_patterns_valid_until(now))};
        rc = cn_store_exec(s,
                           "INSERT INTO behavior_patterns (tenant_id, customer_id, type, channel,"
                           " confidence, frequency, description, metadata, detected_at,"
                           " valid_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                           a, CN_ARRAY_SIZE(a), NULL, err);
    }
    cn_buf_free(&meta);
    return rc;
}

int ins_run_patterns(cn_job_t *job, cn_err_t *err)
{
    const char *customer = json_string_value(json_object_get(job->payload, "customer_id"));
    if (customer == NULL || job->tenant_id == NULL)
        return cn_err_set(err, CN_EINVAL, "payload: customer_id and a tenant are required");
    char zone[CN_TZ_NAME_MAX];
    cn_tz_t *tz;
    int rc = ins_tenant_tz(job->store, job->tenant_id, zone, err);
    if (rc != 0)
        return rc;
    if (cn_tz_open(zone, &tz) != 0 && cn_tz_open("UTC", &tz) != 0)
        return cn_err_set(err, CN_ERR, "cannot open the time zone %s", zone);
    int64_t now = cn_now_ms();
    cn_interaction_t *v = NULL;
    size_t n = 0;
    rc = load_history(job->store, job->tenant_id, customer, now, tz, &v, &n, err);
    cn_tz_close(tz);
    cn_pattern_t found[CN_PATTERNS_MAX];
    int k = rc == 0 ? cn_patterns_detect(v, n, now, found, CN_PATTERNS_MAX) : 0;
    free(v);
    if (rc != 0)
        return rc;
    if (k < 0) /* the history was not in time order: a bug, not a reason to drop patterns */
        return cn_err_set(err, CN_ERR, "pattern detection refused the history of %s", customer);
    if ((rc = save_patterns(job->store, job->tenant_id, customer, found, k, now, err)) != 0)
        return rc;
    char data[160];
    int len = snprintf(data, sizeof(data), "{\"items\":[{\"customer_id\":\"%s\",\"patterns\":%d}]}",
                       customer, k);
    return cn_event_publish_text(job->store, job->tenant_id, INS_CHANNEL, "patterns.detected", data,
                                 (size_t)len, err);
}

int ins_get_patterns(cn_req_t *r)
{
    cn_cached_req_t cached;
    if (ins_cache_lookup(r, &cached) == CN_CACHE_HIT)
        return cn_reply_json_buf(r, 200);
    char lower[CN_UUID_LEN + 1];
    const char *customer = ins_customer_key(cn_req_param(r, "id"), lower);
    cn_val_t a[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(customer), CN_VINT(cn_now_ms())};
    int rc = cn_store_exists(r->store,
                             "SELECT 1 FROM customers WHERE tenant_id = $1 AND external_id = $2", a,
                             2, &r->err);
    if (rc != 0)
        return rc == CN_ENOTFOUND ? cn_fail(r, rc, "no customer with this id") : rc;
    cn_stmt_t *st;
    if ((rc = cn_store_query(r->store,
                             "SELECT type, confidence, frequency, description, metadata,"
                             " detected_at, valid_until FROM behavior_patterns"
                             " WHERE tenant_id = $1 AND customer_id = $2 AND valid_until > $3"
                             " ORDER BY confidence DESC, type",
                             a, 3, &st, &r->err)) != 0)
        return rc;
    cn_buf_t *b = cn_reply_buffer(r);
    cn_jw_t w;
    cn_jw_init(&w, b);
    cn_jw_object(&w);
    cn_jw_key(&w, "items");
    cn_jw_array(&w);
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        size_t len;
        cn_jw_object(&w);
        cn_jw_key(&w, "type");
        ins_jw_text_col(&w, st, 0);
        cn_jw_key(&w, "confidence");
        cn_jw_real(&w, cn_stmt_real(st, 1));
        cn_jw_key(&w, "frequency");
        cn_jw_real(&w, cn_stmt_real(st, 2));
        cn_jw_key(&w, "description");
        ins_jw_text_col(&w, st, 3);
        cn_jw_key(&w, "metadata");
        const char *md = cn_stmt_text(st, 4, &len);
        cn_jw_raw(&w, md, len);
        cn_jw_key(&w, "detected_at");
        ins_jw_time_col(&w, st, 5);
        cn_jw_key(&w, "valid_until");
        ins_jw_time_col(&w, st, 6);
        cn_jw_end(&w);
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    cn_jw_end(&w);
    cn_jw_end(&w);
    cn_cache_answer(r, &cached, b, INS_TTL_PROFILE);
    return cn_reply_json_buf(r, 200);
}
