/*
 * The read side: the insights list, sentiment trends, metrics, search and customers.
 * Every answer is cached per tenant and query (insights 5 min, trends 15 min, profiles
 * 10 min) and dropped as soon as a committed change of the tenant's interactions,
 * sentiment or customers is published, so a write is visible in the next read.
 */
#include "apps/insights/internal.h"
#include "core/page.h"
#include "core/workers.h"
#include "lib/formats.h"

#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

void ins_jw_text_col(cn_jw_t *w, cn_stmt_t *st, int col)
{
    size_t len;
    const char *t = cn_stmt_text(st, col, &len);
    if (t == NULL)
        cn_jw_null(w);
    else
        cn_jw_str(w, t, len);
}

void ins_jw_time_col(cn_jw_t *w, cn_stmt_t *st, int col)
{
    if (cn_stmt_is_null(st, col))
        cn_jw_null(w);
    else
        cn_jw_int(w, cn_stmt_int(st, col));
}

/* the sentiment object of a row (INS_COLUMNS 12..17), or null until analysed */
static void sentiment_cols(cn_jw_t *w, cn_stmt_t *st, int col)
{
    if (cn_stmt_is_null(st, col)) {
        cn_jw_null(w);
        return;
    }
    static const char *const names[] = {"label", "pos", "neu", "neg", "compound", "confidence"};
    cn_jw_object(w);
    for (int i = 0; i < 6; i++) {
        cn_jw_key(w, names[i]);
        if (i == 0)
            ins_jw_text_col(w, st, col);
        else
            cn_jw_real(w, cn_stmt_real(st, col + i));
    }
    cn_jw_end(w);
}

void ins_write_row(cn_jw_t *w, cn_stmt_t *st)
{
    static const char *const text_names[] = {"device", "os", "client", "country", "city"};
    cn_jw_object(w);
    cn_jw_key(w, "id");
    ins_jw_text_col(w, st, 0);
    cn_jw_key(w, "customer_id");
    ins_jw_text_col(w, st, 1);
    cn_jw_key(w, "timestamp");
    ins_jw_time_col(w, st, 2);
    cn_jw_key(w, "channel");
    ins_jw_text_col(w, st, 3);
    cn_jw_key(w, "event_type");
    ins_jw_text_col(w, st, 4);
    cn_jw_key(w, "content");
    ins_jw_text_col(w, st, 5);
    cn_jw_key(w, "metadata");
    size_t len;
    const char *md = cn_stmt_text(st, 6, &len);
    if (md)
        cn_jw_raw(w, md, len);
    else
        cn_jw_null(w);
    cn_jw_key(w, "enrichment");
    cn_jw_object(w);
    for (int i = 0; i < 5; i++) {
        cn_jw_key(w, text_names[i]);
        ins_jw_text_col(w, st, 7 + i);
    }
    cn_jw_end(w);
    cn_jw_key(w, "sentiment");
    sentiment_cols(w, st, 12);
    cn_jw_key(w, "processed_at");
    ins_jw_time_col(w, st, 18);
    cn_jw_key(w, "created_at");
    ins_jw_time_col(w, st, 19);
    cn_jw_end(w);
}

/* ---- the insights list ---- */

static int count_total(cn_store_t *s, const char *tenant, const ins_filter_t *f, int64_t *total,
                       cn_err_t *err)
{
    char sql[INS_SQL_MAX];
    cn_val_t args[INS_ARGS_MAX];
    size_t n = ins_filter_sql(f, tenant, "SELECT COUNT(*) FROM interactions", 0, sql, args);
    return cn_store_one_int(s, sql, args, n, total, err); /* COUNT: one row */
}

static int write_page(cn_store_t *s, const char *tenant, const ins_filter_t *f, cn_jw_t *w,
                      cn_err_t *err)
{
    char sql[INS_SQL_MAX], cursor[300] = "";
    cn_val_t args[INS_ARGS_MAX];
    size_t n = ins_filter_sql(f, tenant, INS_SELECT_ROWS, 1, sql, args);
    cn_stmt_t *st;
    int rc = cn_store_query(s, sql, args, n, &st, err);
    if (rc != 0)
        return rc;
    cn_jw_key(w, "items");
    cn_jw_array(w);
    int64_t shown = 0;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        if (shown == f->limit) { /* the extra row: more follow the last one shown */
            cursor[0] = '+';
            break;
        }
        ins_write_row(w, st);
        shown++;
        ins_cursor_encode(f, cn_stmt_int(st, 2), cn_stmt_real(st, 16), cn_stmt_int(st, INS_COL_SEQ),
                          cursor + 1, sizeof(cursor) - 1);
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    cn_jw_end(w);
    cn_jw_key(w, "next_cursor");
    if (cursor[0] == '+')
        cn_jw_str(w, cursor + 1, strlen(cursor + 1));
    else
        cn_jw_null(w);
    return 0;
}

/* The whole answer: the page and, when asked, the total. */
static int write_list(cn_store_t *s, const char *tenant, const ins_filter_t *f, cn_buf_t *b,
                      cn_err_t *err)
{
    cn_jw_t w;
    cn_jw_init(&w, b);
    cn_jw_object(&w);
    int rc = write_page(s, tenant, f, &w, err);
    if (rc == 0 && f->include_total) {
        int64_t total;
        if ((rc = count_total(s, tenant, f, &total, err)) == 0) {
            cn_jw_key(&w, "total");
            cn_jw_int(&w, total);
        }
    }
    if (rc == 0)
        cn_jw_end(&w);
    return rc;
}

/* A page in time order without filters that skip rows stops after limit + 1 index steps;
 * the others may walk far (a rare segment, a narrow sentiment band, a total). */
static int list_may_walk(const ins_filter_t *f)
{
    return f->n_segments || f->has_smin || f->has_smax || f->n_channels || f->by_sentiment ||
           f->include_total;
}

/* A read over a filter, copied out of its request: it runs on a worker, and its answer
 * (or error) is sent from the loop. */
typedef struct {
    char tenant[64];
    ins_filter_t f; /* its pointers into itself fixed up */
    cn_buf_t out;
    cn_cached_req_t cached;
    int rc;
    cn_err_t err;
} filtered_work_t;

static void reply_from_worker(cn_req_t *r, int rc, const cn_err_t *err, const cn_buf_t *out,
                              const cn_cached_req_t *cached);

/* the done callback of every filtered_work_t (or a struct that begins with one) */
static void filtered_done(cn_req_t *r, void *arg)
{
    filtered_work_t *x = arg;
    reply_from_worker(r, x->rc, &x->err, &x->out, &x->cached);
    cn_buf_free(&x->out);
    free(x);
}

/* the copy's pointers into the filter itself, moved to its own buffers */
static void filter_copy(ins_filter_t *to, const ins_filter_t *from)
{
    *to = *from;
    for (size_t i = 0; i < from->n_segments; i++)
        to->segments[i] = to->segments_buf + (from->segments[i] - from->segments_buf);
    if (from->customer_id)
        to->customer_id = to->customer_buf;
}

/* A zeroed work item of size bytes (at least a filtered_work_t) for r and f. */
static void *filtered_work_new(cn_req_t *r, const ins_filter_t *f, const cn_cached_req_t *cached,
                               size_t size)
{
    filtered_work_t *x = cn_calloc(1, size);
    snprintf(x->tenant, sizeof(x->tenant), "%s", cn_req_tenant(r));
    filter_copy(&x->f, f);
    x->cached = *cached;
    return x;
}

static void list_work(void *arg)
{
    filtered_work_t *x = arg;
    cn_store_t *s = cn_worker_store(&x->err);
    x->rc = s ? write_list(s, x->tenant, &x->f, &x->out, &x->err) : CN_ERR;
}

int ins_list(cn_req_t *r)
{
    cn_cached_req_t cached;
    if (ins_cache_lookup(r, &cached) == CN_CACHE_HIT)
        return cn_reply_json_buf(r, 200);
    ins_filter_t f;
    if (ins_filter_parse(r->query, &f, &r->verrors) != 0)
        return cn_fail(r, CN_EVALIDATION, "the query has invalid parameters");
    if (list_may_walk(&f))
        return cn_req_offload(r, list_work, filtered_done,
                              filtered_work_new(r, &f, &cached, sizeof(filtered_work_t)));
    cn_buf_t *b = cn_reply_buffer(r);
    int rc = write_list(r->store, cn_req_tenant(r), &f, b, &r->err);
    if (rc != 0)
        return rc;
    cn_cache_answer(r, &cached, b, INS_TTL_INSIGHTS);
    return cn_reply_json_buf(r, 200);
}

/* ---- sentiment trends ---- */

static const char *const units[] = {"hour", "day", "week", "month", NULL};

static const cn_field_t trends_fields[] = {
    {"from", CN_T_TIME, .description = "Unix ms or RFC 3339; default: to - 30 days"},
    {"to", CN_T_TIME, .description = "Unix ms or RFC 3339; default: now"},
    {"group_by", CN_T_STRING, .enum_values = units,
     .description = "hour, day (default), week, month"},
    {"channels", CN_T_STRING, .min_len = 1, .max_len = 100,
     .description = "Comma-separated: web, mobile, email, chat, phone"},
    {"timezone", CN_T_STRING, .min_len = 1, .max_len = CN_TZ_NAME_MAX - 1,
     .description = "IANA zone of the buckets; default: the tenant's setting"},
    {"customer_id", CN_T_STRING, .format = CN_FMT_UUID,
     .description = "Only this customer's interactions (read from them, not the rollups)"},
    {0},
};
const cn_schema_t ins_trends_query = {"TrendsQuery", trends_fields};

#define TRENDS_MAX_BUCKETS 2300 /* hours in 95 days */
#define TRENDS_MAX_RANGE (400 * DAY_MS)

typedef struct {
    int64_t start; /* local wall-clock ms */
    int64_t interactions, analysed, count[3];
    double sum;
} bucket_t;

typedef struct {
    cn_tz_t *tz;
    cn_tz_unit_t unit;
    int64_t from, to;
    bucket_t *b;
    size_t n;
} trend_t;

static int trend_range(cn_req_t *r, trend_t *t, ins_filter_t *f)
{
    memset(f, 0, sizeof(*f));
    int64_t now = cn_now_ms();
    t->to = now + 1;
    t->from = INT64_MIN;
    /* both were validated (CN_T_TIME): an absent one keeps its default */
    cn_schema_time(json_object_get(r->query, "to"), &t->to);
    cn_schema_time(json_object_get(r->query, "from"), &t->from);
    if (t->from == INT64_MIN)
        t->from = t->to - 30 * DAY_MS;
    if (t->from >= t->to)
        return cn_fail_field(r, "to", "must be after from");
    if (t->to - t->from > TRENDS_MAX_RANGE)
        return cn_fail_field(r, "from", "the range may cover at most 400 days");
    int u = cn_tz_unit_parse(json_string_value(json_object_get(r->query, "group_by")));
    t->unit = u < 0 ? CN_TZ_DAY : (cn_tz_unit_t)u;
    if (t->unit == CN_TZ_HOUR && t->to - t->from > 95 * DAY_MS)
        return cn_fail_field(r, "group_by", "hour buckets cover at most 95 days; use day");
    const char *channels = json_string_value(json_object_get(r->query, "channels"));
    if (ins_filter_channels(channels, f, &r->verrors) != 0)
        return cn_fail(r, CN_EVALIDATION, "the query has invalid parameters");
    const char *customer = json_string_value(json_object_get(r->query, "customer_id"));
    f->customer_id = customer ? ins_customer_key(customer, f->customer_buf) : NULL;
    return 0;
}

/* the empty buckets of the range, in local time */
static void trend_buckets(trend_t *t)
{
    int64_t lo = t->from + cn_tz_offset_ms(t->tz, t->from);
    int64_t hi = t->to + cn_tz_offset_ms(t->tz, t->to);
    t->b = cn_calloc(TRENDS_MAX_BUCKETS + 2, sizeof(bucket_t));
    for (int64_t s = cn_tz_bucket_start(lo, t->unit); s < hi && t->n < TRENDS_MAX_BUCKETS + 2;
         s = cn_tz_bucket_next(s, t->unit))
        t->b[t->n++].start = s;
}

/* the last bucket starting at or before local (buckets ascend; b[0] starts the range) */
static bucket_t *bucket_for(trend_t *t, int64_t local)
{
    size_t lo = 0, hi = t->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->b[mid].start <= local)
            lo = mid;
        else
            hi = mid;
    }
    return &t->b[lo];
}

/* Adds the rollup rows of the range into the local buckets. The rows are read as stored,
 * without GROUP BY: an unfiltered trend reads one all-channels row per slot, and summing in
 * C costs a fraction of SQLite's aggregate steps. */
static int trend_fill(cn_req_t *r, trend_t *t, const ins_filter_t *f)
{
    char sql[512];
    cn_val_t a[8] = {CN_VTEXT(cn_req_tenant(r)), CN_VINT(t->from - t->from % INS_ROLLUP_MS),
                     CN_VINT(t->to)};
    size_t n = 3;
    int len = snprintf(sql, sizeof(sql),
                       "SELECT bucket, interactions, analysed, positive, neutral, negative,"
                       " compound_sum FROM insight_rollups WHERE tenant_id = $1"
                       " AND segment = '' AND bucket >= $2 AND bucket < $3");
    if (!f->n_channels) {
        a[n++] = CN_VTEXT(INS_ALL_CHANNELS);
        snprintf(sql + len, sizeof(sql) - (size_t)len, " AND channel = $4");
    } else {
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND channel IN (");
        for (size_t i = 0; i < 5; i++) {
            a[n++] = CN_VTEXT(f->channels[i < f->n_channels ? i : 0]);
            len += snprintf(sql + len, sizeof(sql) - (size_t)len, "%s$%zu", i ? ", " : "", n);
        }
        snprintf(sql + len, sizeof(sql) - (size_t)len, ")");
    }
    cn_stmt_t *st;
    int rc = cn_store_query(r->store, sql, a, n, &st, &r->err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        int64_t utc = cn_stmt_int(st, 0);
        bucket_t *b = bucket_for(t, cn_tz_bucket_start(utc + cn_tz_offset_ms(t->tz, utc), t->unit));
        b->interactions += cn_stmt_int(st, 1);
        b->analysed += cn_stmt_int(st, 2);
        for (int i = 0; i < 3; i++)
            b->count[i] += cn_stmt_int(st, 3 + i);
        b->sum += cn_stmt_real(st, 6);
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : 0;
}

/* One customer's trend, copied out of its request: it runs on a worker. */
typedef struct {
    char tenant[64], customer[CN_UUID_LEN + 1], channels[5][32], zone[CN_TZ_NAME_MAX];
    size_t n_channels;
    trend_t t;
    cn_cached_req_t cached;
    int rc;
    cn_err_t err;
} customer_trend_t;

/* One customer's trend: the rollups are per tenant, so the customer's interactions of the
 * range are read through the customer + time index (a customer's history, not the
 * tenant's). A customer may have any number of them, so this runs on a worker. */
static int trend_fill_customer(cn_store_t *s, customer_trend_t *x)
{
    trend_t *t = &x->t;
    cn_val_t a[] = {CN_VTEXT(x->tenant), CN_VTEXT(x->customer), CN_VINT(t->from), CN_VINT(t->to)};
    cn_stmt_t *st;
    int rc = cn_store_query(s,
                            "SELECT ts, channel, sentiment, s_compound FROM interactions"
                            " WHERE tenant_id = $1 AND customer_id = $2 AND ts >= $3 AND ts < $4",
                            a, CN_ARRAY_SIZE(a), &st, &x->err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, &x->err)) == CN_ROW) {
        size_t len;
        const char *ch = cn_stmt_text(st, 1, &len);
        int keep = x->n_channels == 0;
        for (size_t i = 0; i < x->n_channels && !keep; i++)
            keep = strlen(x->channels[i]) == len && memcmp(x->channels[i], ch, len) == 0;
        if (!keep)
            continue;
        int64_t utc = cn_stmt_int(st, 0);
        bucket_t *b = bucket_for(t, cn_tz_bucket_start(utc + cn_tz_offset_ms(t->tz, utc), t->unit));
        b->interactions++;
        const char *label = cn_stmt_text(st, 2, NULL);
        if (cn_stmt_is_null(st, 2) || label == NULL)
            continue;
        b->analysed++;
        b->count[label[0] == 'p' ? 0 : label[2] == 'u' ? 1 : 2]++;
        b->sum += cn_stmt_real(st, 3);
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : 0;
}

static void trend_write(cn_jw_t *w, trend_t *t, const char *zone)
{
    static const char *const labels[] = {"positive", "neutral", "negative"};
    cn_jw_object(w);
    cn_jw_key(w, "group_by");
    cn_jw_str(w, units[t->unit], strlen(units[t->unit]));
    cn_jw_key(w, "timezone");
    cn_jw_str(w, zone, strlen(zone));
    cn_jw_key(w, "buckets");
    cn_jw_array(w);
    for (size_t i = 0; i < t->n; i++) {
        const bucket_t *b = &t->b[i];
        cn_jw_object(w);
        cn_jw_key(w, "start"); /* the instant the local bucket starts */
        cn_jw_int(w, cn_tz_local_to_utc(t->tz, b->start));
        cn_jw_key(w, "interactions");
        cn_jw_int(w, b->interactions);
        cn_jw_key(w, "analysed");
        cn_jw_int(w, b->analysed);
        for (int k = 0; k < 3; k++) {
            cn_jw_key(w, labels[k]);
            cn_jw_int(w, b->count[k]);
        }
        cn_jw_key(w, "average_compound");
        if (b->analysed)
            cn_jw_real(w, b->sum / (double)b->analysed);
        else
            cn_jw_null(w);
        cn_jw_end(w);
    }
    cn_jw_end(w);
    cn_jw_end(w);
}

static void customer_trend_work(void *arg)
{
    customer_trend_t *x = arg;
    cn_store_t *s = cn_worker_store(&x->err);
    x->rc = s ? trend_fill_customer(s, x) : CN_ERR;
}

/* The answer of an offloaded read, on the loop: the worker's error, or the JSON it wrote
 * (cached like the loop's own answers). r is NULL when the client has gone. */
static void reply_from_worker(cn_req_t *r, int rc, const cn_err_t *err, const cn_buf_t *out,
                              const cn_cached_req_t *cached)
{
    if (r == NULL)
        return;
    if (rc != 0) {
        r->err = *err;
        cn_req_finish_error(r, rc);
        return;
    }
    cn_buf_t *b = cn_reply_buffer(r);
    cn_buf_append(b, out->data, out->len);
    cn_cache_answer(r, cached, b, INS_TTL_INSIGHTS);
    cn_reply_json_buf(r, 200);
}

static void customer_trend_done(cn_req_t *r, void *arg)
{
    customer_trend_t *x = arg;
    if (r != NULL && x->rc != 0) {
        r->err = x->err;
        cn_req_finish_error(r, x->rc);
    } else if (r != NULL) {
        cn_buf_t *b = cn_reply_buffer(r);
        cn_jw_t w;
        cn_jw_init(&w, b);
        trend_write(&w, &x->t, x->zone);
        cn_cache_answer(r, &x->cached, b, INS_TTL_TRENDS);
        cn_reply_json_buf(r, 200);
    }
    free(x->t.b);
    cn_tz_close(x->t.tz);
    free(x);
}

/* Takes t (its buckets and zone) over and runs the customer's trend on a worker. */
static int customer_trend_offload(cn_req_t *r, trend_t *t, const ins_filter_t *f, const char *zone,
                                  const cn_cached_req_t *cached)
{
    customer_trend_t *x = cn_calloc(1, sizeof(*x));
    snprintf(x->tenant, sizeof(x->tenant), "%s", cn_req_tenant(r));
    snprintf(x->customer, sizeof(x->customer), "%s", f->customer_id);
    snprintf(x->zone, sizeof(x->zone), "%s", zone);
    for (size_t i = 0; i < f->n_channels && i < 5; i++)
        snprintf(x->channels[x->n_channels++], sizeof(x->channels[0]), "%s", f->channels[i]);
    x->t = *t;
    x->cached = *cached;
    /* the current bucket keeps changing: a cached "now" would go stale by time alone */
    if (!json_object_get(r->query, "to"))
        x->cached.cacheable = 0;
    return cn_req_offload(r, customer_trend_work, customer_trend_done, x);
}

int ins_trends(cn_req_t *r)
{
    char zone[CN_TZ_NAME_MAX];
    cn_cached_req_t cached;
    if (ins_cache_lookup(r, &cached) == CN_CACHE_HIT)
        return cn_reply_json_buf(r, 200);
    trend_t t = {0};
    ins_filter_t f;
    int rc = trend_range(r, &t, &f);
    if (rc != 0)
        return rc;
    const char *asked = json_string_value(json_object_get(r->query, "timezone"));
    if (asked)
        snprintf(zone, sizeof(zone), "%s", asked);
    else if ((rc = ins_tenant_tz(r->store, cn_req_tenant(r), zone, &r->err)) != 0)
        return rc;
    if (cn_tz_open(zone, &t.tz) != 0)
        return cn_fail_field(r, "timezone", "is not an IANA time zone name");
    trend_buckets(&t);
    if (f.customer_id)
        return customer_trend_offload(r, &t, &f, zone, &cached);
    rc = trend_fill(r, &t, &f);
    if (rc == 0) {
        cn_buf_t *b = cn_reply_buffer(r);
        cn_jw_t w;
        cn_jw_init(&w, b);
        trend_write(&w, &t, zone);
        /* the current bucket keeps changing: a cached "now" would go stale by time alone */
        if (!json_object_get(r->query, "to"))
            cached.cacheable = 0;
        cn_cache_answer(r, &cached, b, INS_TTL_TRENDS);
    }
    free(t.b);
    cn_tz_close(t.tz);
    return rc != 0 ? rc : cn_reply_json_buf(r, 200);
}

/* ---- metrics ---- */

static const cn_field_t metrics_fields[] = {
    {"from", CN_T_TIME, .description = "Unix ms or RFC 3339; default: to - 30 days"},
    {"to", CN_T_TIME, .description = "Unix ms or RFC 3339; default: now"},
    {"segments", CN_T_STRING, .min_len = 1, .max_len = 660,
     .description = "Comma-separated customer segments (at most 10)"},
    {"by_segment", CN_T_BOOLEAN, .description = "Also break the counts down by customer segment"},
    {0},
};
const cn_schema_t ins_metrics_query = {"MetricsQuery", metrics_fields};

typedef struct {
    int64_t by_channel[5], label[4]; /* positive, neutral, negative, without a score */
    int64_t total, active, pending;
    double sum;
    int64_t analysed;
} metrics_t;

/* " AND <column> IN ($n+1, ...)" into seg ("" without a segment filter), the values
 * appended to a after its first n; returns the new count. */
static size_t segment_in(const ins_filter_t *f, const char *column, cn_val_t *a, size_t n,
                         char *seg, size_t cap)
{
    size_t len = 0;
    seg[0] = '\0';
    if (!f->n_segments)
        return n;
    len += (size_t)snprintf(seg, cap, " AND %s IN (", column);
    for (size_t i = 0; i < INS_LIST_MAX; i++) {
        a[n++] = CN_VTEXT(f->segments[i < f->n_segments ? i : 0]);
        len += (size_t)snprintf(seg + len, cap - len, "%s$%zu", i ? ", " : "", n);
    }
    snprintf(seg + len, cap - len, ")");
    return n;
}

size_t ins_counts_sql(const ins_filter_t *f, const char *tenant, char *sql, cn_val_t *a)
{
    char seg[INS_SQL_MAX / 2];
    a[0] = CN_VTEXT(tenant);
    a[1] = CN_VINT(f->from - f->from % INS_ROLLUP_MS);
    a[2] = CN_VINT(f->to);
    size_t n = segment_in(f, "segment", a, 3, seg, sizeof(seg));
    for (int c = 0; c < 5; c++) /* one seek per channel: the key is (segment, channel, slot) */
        a[n + (size_t)c] = CN_VTEXT(ins_channels[c]);
    snprintf(sql, INS_SQL_MAX,
             "SELECT channel, SUM(interactions), SUM(processed), SUM(analysed), SUM(positive),"
             " SUM(neutral), SUM(negative), SUM(compound_sum) FROM insight_rollups"
             " WHERE tenant_id = $1%s AND channel IN ($%zu, $%zu, $%zu, $%zu, $%zu)"
             " AND bucket >= $2 AND bucket < $3 GROUP BY channel",
             f->n_segments ? seg : " AND segment = ''", n + 1, n + 2, n + 3, n + 4, n + 5);
    return n + 5;
}

/* Counts from the 15-minute rollups, of all customers or of the filter's segments: the
 * cost does not grow with the number of interactions. The range is widened to whole
 * 15-minute slots. */
static int metrics_from_rollups(cn_req_t *r, const ins_filter_t *f, metrics_t *m)
{
    char sql[INS_SQL_MAX];
    cn_val_t a[INS_ARGS_MAX];
    size_t n = ins_counts_sql(f, cn_req_tenant(r), sql, a);
    cn_stmt_t *st;
    int rc = cn_store_query(r->store, sql, a, n, &st, &r->err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        size_t len;
        const char *ch = cn_stmt_text(st, 0, &len);
        int c = ins_channel_index(ch, len);
        int64_t k = cn_stmt_int(st, 1), analysed = cn_stmt_int(st, 3);
        if (c >= 0)
            m->by_channel[c] += k;
        m->total += k;
        m->pending += k - cn_stmt_int(st, 2);
        m->analysed += analysed;
        for (int l = 0; l < 3; l++)
            m->label[l] += cn_stmt_int(st, 4 + l);
        m->label[3] += k - analysed;
        m->sum += cn_stmt_real(st, 7);
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : 0;
}

/* Customers with an interaction in the range: one seek per customer seen around it, in
 * the customer + time index (never a walk over the range's interactions). */
static int active_customers(cn_req_t *r, const ins_filter_t *f, metrics_t *m)
{
    char sql[INS_SQL_MAX + 400], seg[INS_SQL_MAX];
    cn_val_t a[INS_ARGS_MAX] = {CN_VTEXT(cn_req_tenant(r)), CN_VINT(f->from), CN_VINT(f->to)};
    size_t n = segment_in(f, "c.segment", a, 3, seg, sizeof(seg));
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM customers c WHERE c.tenant_id = $1 AND c.last_seen >= $2"
             " AND c.first_seen < $3%s AND EXISTS (SELECT 1 FROM interactions i"
             " WHERE i.tenant_id = $1 AND i.customer_id = c.external_id AND i.ts >= $2"
             " AND i.ts < $3)",
             seg);
    return cn_store_one_int(r->store, sql, a, n, &m->active, &r->err); /* COUNT: one row */
}

static int metrics_counts(cn_req_t *r, const ins_filter_t *f, metrics_t *m)
{
    int rc = metrics_from_rollups(r, f, m);
    return rc != 0 ? rc : active_customers(r, f, m);
}

/* the answer's fields, leaving its object open for by_segment */
static void metrics_write(cn_jw_t *w, const metrics_t *m, const ins_filter_t *f)
{
    static const char *const labels[] = {"positive", "neutral", "negative", "not_analysed"};
    cn_jw_object(w);
    cn_jw_key(w, "from");
    cn_jw_int(w, f->from);
    cn_jw_key(w, "to");
    cn_jw_int(w, f->to);
    cn_jw_key(w, "interactions");
    cn_jw_int(w, m->total);
    cn_jw_key(w, "by_channel");
    cn_jw_object(w);
    for (int i = 0; i < 5; i++) {
        cn_jw_key(w, ins_channels[i]);
        cn_jw_int(w, m->by_channel[i]);
    }
    cn_jw_end(w);
    cn_jw_key(w, "sentiment");
    cn_jw_object(w);
    for (int i = 0; i < 4; i++) {
        cn_jw_key(w, labels[i]);
        cn_jw_int(w, m->label[i]);
    }
    cn_jw_end(w);
    cn_jw_key(w, "average_compound");
    if (m->analysed)
        cn_jw_real(w, m->sum / (double)m->analysed);
    else
        cn_jw_null(w);
    cn_jw_key(w, "pending_analysis");
    cn_jw_int(w, m->pending);
    cn_jw_key(w, "active_customers");
    cn_jw_int(w, m->active);
    cn_jw_key(w, "interactions_per_customer");
    if (m->active)
        cn_jw_real(w, (double)m->total / (double)m->active);
    else
        cn_jw_null(w);
}

#define BY_SEGMENT_MAX 50

/* One segment's counts; segment NULL: the customers without one. */
typedef struct {
    char *segment;
    int64_t interactions, analysed, labels[3];
    double sum;
} segment_counts_t;

typedef struct {
    segment_counts_t *v;
    size_t n, cap;
} segment_list_t;

static segment_counts_t *segment_push(segment_list_t *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = cn_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n] = (segment_counts_t){0};
    return &l->v[l->n++];
}

/* largest first, then by name, the customers without a segment before any name */
static int segment_order(const void *pa, const void *pb)
{
    const segment_counts_t *a = pa, *b = pb;
    if (a->interactions != b->interactions)
        return a->interactions > b->interactions ? -1 : 1;
    if (a->segment == NULL || b->segment == NULL)
        return (a->segment != NULL) - (b->segment != NULL);
    return strcmp(a->segment, b->segment);
}

size_t ins_segments_sql(const ins_filter_t *f, const char *tenant, char *sql, cn_val_t *a)
{
    char seg[INS_SQL_MAX / 2];
    a[0] = CN_VTEXT(tenant);
    a[1] = CN_VINT(f->from - f->from % INS_ROLLUP_MS);
    a[2] = CN_VINT(f->to);
    size_t n = segment_in(f, "r.segment", a, 3, seg, sizeof(seg));
    /* CROSS JOIN keeps the few segments as the outer loop: one key range each */
    /* '' (all customers) first: the total the customers without a segment are counted
     * from, read in the same statement as the segments */
    static const char skip_scan[] =
        "WITH RECURSIVE segs(name) AS (SELECT CAST('' AS TEXT)"
        " UNION ALL SELECT (SELECT segment FROM insight_rollups WHERE tenant_id = $1"
        " AND segment > segs.name ORDER BY segment LIMIT 1) FROM segs"
        " WHERE segs.name IS NOT NULL) ";
    snprintf(sql, INS_SQL_MAX,
             "%sSELECT r.segment, SUM(r.interactions), SUM(r.analysed), SUM(r.positive),"
             " SUM(r.neutral), SUM(r.negative), SUM(r.compound_sum)"
             " FROM %sinsight_rollups r WHERE r.tenant_id = $1%s"
             " AND r.channel = '" INS_ALL_CHANNELS "' AND r.bucket >= $2 AND r.bucket < $3"
             " GROUP BY r.segment",
             f->n_segments ? "" : skip_scan, f->n_segments ? "" : "segs CROSS JOIN ",
             f->n_segments ? seg : " AND r.segment = segs.name");
    return n;
}

/* The range's rollup rows of each segment (all channels together), and without a segment
 * filter the row of all customers into *total. */
static int segments_read(cn_store_t *s, const char *tenant, const ins_filter_t *f,
                         segment_list_t *out, segment_counts_t *total, cn_err_t *err)
{
    char sql[INS_SQL_MAX];
    cn_val_t a[INS_ARGS_MAX];
    size_t n = ins_segments_sql(f, tenant, sql, a);
    cn_stmt_t *st;
    int rc = cn_store_query(s, sql, a, n, &st, err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        if (cn_stmt_int(st, 1) <= 0)
            continue; /* every customer of the segment left it */
        size_t len;
        const char *name = cn_stmt_text(st, 0, &len);
        segment_counts_t *c = len == 0 ? total : segment_push(out);
        c->segment = len == 0 ? NULL : cn_strndup(name, len);
        c->interactions = cn_stmt_int(st, 1);
        c->analysed = cn_stmt_int(st, 2);
        for (int l = 0; l < 3; l++)
            c->labels[l] = cn_stmt_int(st, 3 + l);
        c->sum = cn_stmt_real(st, 6);
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : 0;
}

/* The customers without a segment: everything of all customers the segments do not count. */
static void segment_none(segment_list_t *l, const segment_counts_t *total)
{
    segment_counts_t none = *total;
    for (size_t i = 0; i < l->n; i++) {
        none.interactions -= l->v[i].interactions;
        none.analysed -= l->v[i].analysed;
        for (int k = 0; k < 3; k++)
            none.labels[k] -= l->v[i].labels[k];
        none.sum -= l->v[i].sum;
    }
    if (none.interactions > 0)
        *segment_push(l) = none;
}

static void segments_write(cn_jw_t *w, const segment_list_t *l)
{
    static const char *const names[] = {"positive", "neutral", "negative"};
    cn_jw_key(w, "by_segment");
    cn_jw_array(w);
    for (size_t i = 0; i < l->n && i < BY_SEGMENT_MAX; i++) {
        const segment_counts_t *c = &l->v[i];
        cn_jw_object(w);
        cn_jw_key(w, "segment");
        if (c->segment)
            cn_jw_str(w, c->segment, strlen(c->segment));
        else
            cn_jw_null(w);
        cn_jw_key(w, "interactions");
        cn_jw_int(w, c->interactions);
        cn_jw_key(w, "analysed");
        cn_jw_int(w, c->analysed);
        for (int k = 0; k < 3; k++) {
            cn_jw_key(w, names[k]);
            cn_jw_int(w, c->labels[k]);
        }
        cn_jw_key(w, "average_compound");
        if (c->analysed > 0)
            cn_jw_real(w, c->sum / (double)c->analysed);
        else
            cn_jw_null(w);
        cn_jw_end(w);
    }
    cn_jw_end(w);
}

/* "by_segment": the range's counts per customer segment (null: none), largest first, from
 * the segment rollups. */
static int metrics_by_segment(cn_store_t *s, const char *tenant, const ins_filter_t *f, cn_jw_t *w,
                              cn_err_t *err)
{
    segment_list_t l = {0};
    segment_counts_t total = {0};
    int rc = segments_read(s, tenant, f, &l, &total, err);
    if (rc == 0) {
        if (!f->n_segments) /* a filter leaves the customers without a segment out */
            segment_none(&l, &total);
        if (l.n > 1)
            qsort(l.v, l.n, sizeof(*l.v), segment_order);
        segments_write(w, &l);
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i].segment);
    free(l.v);
    return rc;
}

/* The metrics with by_segment: the counts of all customers are written on the loop, the
 * segments' on a worker into the same document (a tenant may have any number of segments,
 * each with a rollup row per slot of the range). */
typedef struct {
    filtered_work_t base; /* first: filtered_done frees it */
    cn_jw_t w;            /* writes into base.out, inside the answer's object */
} by_segment_t;

static void by_segment_work(void *arg)
{
    by_segment_t *x = arg;
    cn_store_t *s = cn_worker_store(&x->base.err);
    x->base.rc =
        s ? metrics_by_segment(s, x->base.tenant, &x->base.f, &x->w, &x->base.err) : CN_ERR;
    if (x->base.rc == 0)
        cn_jw_end(&x->w);
}

static int by_segment_offload(cn_req_t *r, const ins_filter_t *f, const metrics_t *m,
                              const cn_cached_req_t *cached)
{
    by_segment_t *x = filtered_work_new(r, f, cached, sizeof(by_segment_t));
    x->base.f.customer_id = NULL; /* neither is read by the segments */
    x->base.f.n_channels = 0;
    cn_jw_init(&x->w, &x->base.out);
    metrics_write(&x->w, m, f);
    return cn_req_offload(r, by_segment_work, filtered_done, x);
}

int ins_metrics(cn_req_t *r)
{
    cn_cached_req_t cached;
    if (ins_cache_lookup(r, &cached) == CN_CACHE_HIT)
        return cn_reply_json_buf(r, 200);
    ins_filter_t f;
    if (ins_filter_parse(r->query, &f, &r->verrors) != 0)
        return cn_fail(r, CN_EVALIDATION, "the query has invalid parameters");
    if (f.to == INT64_MAX) {
        f.to = cn_now_ms() + 1;
        cached.cacheable = 0; /* "until now" moves by itself */
    }
    if (f.from == INT64_MIN)
        f.from = f.to - 30 * DAY_MS;
    if (f.from >= f.to)
        return cn_fail_field(r, "from", "must be before to");
    metrics_t m = {0};
    int rc = metrics_counts(r, &f, &m);
    if (rc != 0)
        return rc;
    if (json_is_true(json_object_get(r->query, "by_segment")))
        return by_segment_offload(r, &f, &m, &cached);
    cn_buf_t *b = cn_reply_buffer(r);
    cn_jw_t w;
    cn_jw_init(&w, b);
    metrics_write(&w, &m, &f);
    cn_jw_end(&w);
    cn_cache_answer(r, &cached, b, INS_TTL_INSIGHTS);
    return cn_reply_json_buf(r, 200);
}

/* ---- search ---- */

static const cn_field_t search_fields[] = {
    {"q", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 200,
     .description = "Words to find (all must match); a trailing * matches a prefix"},
    {"limit", CN_T_INTEGER, .has_min = 1, .min = 1, .has_max = 1, .max = 100},
    {"cursor", CN_T_STRING, .max_len = 32, .description = "next_cursor of the previous page"},
    {0},
};
const cn_schema_t ins_search_query = {"SearchQuery", search_fields};

#define SEARCH_CANDIDATES 2000 /* newest matches ranked; pages reach this deep */
#define SEARCH_PAGE_MAX 100

static int word_byte(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/*
 * Every client word becomes a quoted string (so no client text is query syntax), all
 * required, a trailing * a prefix: FTS5's `"w1" AND "w2"*`, PostgreSQL's tsquery text
 * `'w1' & 'w2':*`. A word holds only ASCII letters and digits and bytes of non-ASCII
 * characters, so it never holds a quote or a backslash to escape.
 */
int ins_search_text(const char *q, int postgres, cn_buf_t *out)
{
    int words = 0;
    for (const unsigned char *p = (const unsigned char *)q; *p;) {
        const unsigned char *s = p;
        while (*p && word_byte(*p))
            p++;
        if (p > s) {
            if (postgres)
                cn_buf_appendf(out, "%s'%.*s'%s", words ? " & " : "", (int)(p - s), s,
                               *p == '*' ? ":*" : "");
            else
                cn_buf_appendf(out, "%s\"%.*s\"%s", words ? " AND " : "", (int)(p - s), s,
                               *p == '*' ? "*" : "");
            words++;
        }
        while (*p && !word_byte(*p))
            p++;
    }
    cn_buf_append(out, "", 1);
    return words;
}

/* 1 when text without its match marks begins (at_end: ends) body */
static int marked_at(const char *text, size_t len, const char *body, size_t body_len, int at_end)
{
    size_t i = 0, j = 0;
    while (i < len) {
        char c = at_end ? text[len - 1 - i] : text[i];
        i++;
        if (c == '\x02' || c == '\x03')
            continue;
        if (j == body_len || c != (at_end ? body[body_len - 1 - j] : body[j]))
            return 0;
        j++;
    }
    return 1;
}

void ins_headline_cuts(const char *headline, size_t len, const char *body, size_t body_len,
                       cn_buf_t *out)
{
    if (!marked_at(headline, len, body, body_len, 0))
        cn_buf_lit(out, "…");
    cn_buf_append(out, headline, len);
    if (!marked_at(headline, len, body, body_len, 1))
        cn_buf_lit(out, "…");
}

/* snippet text with \x02 / \x03 around matches -> [{text, match}] */
static void write_snippet(cn_jw_t *w, const char *s, size_t len)
{
    cn_jw_array(w);
    size_t i = 0;
    int match = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '\x02' && s[j] != '\x03')
            j++;
        if (j > i) {
            cn_jw_object(w);
            cn_jw_key(w, "text");
            cn_jw_str(w, s + i, j - i);
            cn_jw_key(w, "match");
            cn_jw_bool(w, match);
            cn_jw_end(w);
        }
        if (j < len)
            match = s[j] == '\x02';
        i = j + 1;
    }
    cn_jw_end(w);
}

/* The page's hits in rank order: BM25 among the newest SEARCH_CANDIDATES matches. Ranking
 * every match costs microseconds each, and a common word matches a large share of a
 * tenant's history; recent interactions are the ones an analyst looks for. */
/* A search, run on a worker (a search over a large history takes milliseconds of CPU, and
 * a loop must not stall its other requests meanwhile); the answer comes back to the loop. */
typedef struct {
    cn_store_t *store;
    char tenant[64];
    char *match; /* the engine's query text (ins_search_text) */
    int64_t limit, offset;
    cn_cached_req_t cached;
    cn_buf_t out;
    cn_err_t err;
    int rc;
} search_t;

/*
 * The newest SEARCH_CANDIDATES matches of the tenant, ranked: $1 the query
 * (ins_search_text), $2 limit, $3 offset, $4 SEARCH_CANDIDATES, $5 the tenant. Rows: hit
 * (seq), score (lower is better: BM25 on SQLite, minus ts_rank on PostgreSQL). Ties keep
 * the newest first. FTS5 walks matches newest first and checks the tenant on each one's
 * index row; PostgreSQL finds the matches in the GIN index and keeps the tenant's newest.
 */
const cn_sql_pair_t ins_sql_search = {
    "SELECT hit, score FROM (SELECT rowid AS hit,"
    " bm25(interactions_fts) AS score FROM interactions_fts"
    " WHERE interactions_fts MATCH $1 AND tenant_id = $5"
    " ORDER BY rowid DESC LIMIT $4)"
    " ORDER BY score, hit DESC LIMIT $2 OFFSET $3",
    "SELECT hit, score FROM (SELECT f.seq AS hit, -ts_rank(f.doc, q) AS score"
    " FROM interactions_fts AS f, to_tsquery('cairn_search', $1) AS q"
    " WHERE f.tenant_id = $5 AND f.doc @@ q ORDER BY f.seq DESC LIMIT $4) AS c"
    " ORDER BY score, hit DESC LIMIT $2 OFFSET $3"};

/*
 * One hit of the tenant: $1 the query, $2 its seq, $3 the tenant. Rows: INS_COLUMNS, then
 * the snippet with \x02 / \x03 around matches, of about 16 words; on PostgreSQL then the
 * indexed text, since ts_headline marks no cut (ins_headline_cuts adds the ellipses).
 * ts_headline counts the parts of a hyphenated word as words: MinWords 12 keeps its
 * fragments about as long as FTS5's.
 */
const cn_sql_pair_t ins_sql_search_hit = {
    "SELECT " INS_COLUMNS ", snippet(interactions_fts, 0, char(2), char(3),"
    " '…', 16) FROM interactions_fts JOIN interactions"
    " ON interactions.seq = interactions_fts.rowid"
    " WHERE interactions_fts MATCH $1 AND interactions_fts.rowid = $2"
    " AND interactions.tenant_id = $3",
    "SELECT " INS_COLUMNS ", ts_headline('cairn_search', f.body, to_tsquery('cairn_search', $1),"
    " 'StartSel=' || chr(2) || ', StopSel=' || chr(3) || ', MaxWords=16, MinWords=12,"
    " ShortWord=0'), f.body FROM interactions JOIN (SELECT seq AS hit, body"
    " FROM interactions_fts WHERE seq = $2) AS f ON interactions.seq = f.hit"
    " WHERE interactions.tenant_id = $3"};

static int search_page(search_t *x, int64_t *seqs, double *scores, int64_t *n)
{
    cn_val_t a[] = {CN_VTEXT(x->match), CN_VINT(x->limit + 1), CN_VINT(x->offset),
                    CN_VINT(SEARCH_CANDIDATES), CN_VTEXT(x->tenant)};
    cn_stmt_t *st;
    int rc = cn_store_query(x->store, cn_store_sql(x->store, &ins_sql_search), a, 5, &st, &x->err);
    if (rc != 0)
        return rc;
    *n = 0;
    while ((rc = cn_stmt_step(st, &x->err)) == CN_ROW && *n <= x->limit) {
        seqs[*n] = cn_stmt_int(st, 0);
        scores[(*n)++] = cn_stmt_real(st, 1);
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : 0;
}

static void write_hit_snippet(search_t *x, cn_stmt_t *st, cn_jw_t *w)
{
    size_t len, body_len;
    const char *snip = cn_stmt_text(st, INS_COL_SEQ + 1, &len);
    if (snip == NULL)
        snip = "", len = 0;
    cn_jw_key(w, "snippet");
    if (!cn_store_is_postgres(x->store)) {
        write_snippet(w, snip, len);
        return;
    }
    const char *body = cn_stmt_text(st, INS_COL_SEQ + 2, &body_len);
    cn_buf_t cut = {0};
    ins_headline_cuts(snip, len, body ? body : "", body ? body_len : 0, &cut);
    write_snippet(w, cut.data, cut.len);
    cn_buf_free(&cut);
}

/* One hit: the interaction and its snippet (computed for the page's rows only). */
static int write_hit(search_t *x, int64_t seq, double score, cn_jw_t *w)
{
    cn_val_t a[] = {CN_VTEXT(x->match), CN_VINT(seq), CN_VTEXT(x->tenant)};
    cn_stmt_t *st;
    int rc =
        cn_store_query(x->store, cn_store_sql(x->store, &ins_sql_search_hit), a, 3, &st, &x->err);
    if (rc != 0)
        return rc;
    if ((rc = cn_stmt_step(st, &x->err)) == CN_ROW) {
        cn_jw_object(w);
        cn_jw_key(w, "interaction");
        ins_write_row(w, st);
        write_hit_snippet(x, st, w);
        cn_jw_key(w, "score");
        cn_jw_real(w, -score); /* lower is better; scores here grow with relevance */
        cn_jw_end(w);
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : 0;
}

/* {"items": [...], "next_cursor": ...} into x->out */
static int search_answer(search_t *x)
{
    int64_t seqs[SEARCH_PAGE_MAX + 1], n = 0;
    double scores[SEARCH_PAGE_MAX + 1];
    int rc = search_page(x, seqs, scores, &n);
    cn_jw_t w;
    cn_jw_init(&w, &x->out);
    cn_jw_object(&w);
    cn_jw_key(&w, "items");
    cn_jw_array(&w);
    for (int64_t i = 0; rc == 0 && i < n && i < x->limit; i++)
        rc = write_hit(x, seqs[i], scores[i], &w);
    cn_jw_end(&w);
    cn_jw_key(&w, "next_cursor");
    if (n > x->limit && x->offset + x->limit < SEARCH_CANDIDATES) {
        char next[24];
        cn_jw_str(&w, next,
                  (size_t)snprintf(next, sizeof(next), "%lld", (long long)x->offset + x->limit));
    } else {
        cn_jw_null(&w);
    }
    cn_jw_end(&w);
    return rc;
}

static void search_work(void *arg)
{
    search_t *x = arg;
    x->store = cn_worker_store(&x->err);
    x->rc = x->store ? search_answer(x) : CN_ERR;
}

static void search_done(cn_req_t *r, void *arg)
{
    search_t *x = arg;
    reply_from_worker(r, x->rc, &x->err, &x->out, &x->cached);
    free(x->match);
    cn_buf_free(&x->out);
    free(x);
}

int ins_search(cn_req_t *r)
{
    cn_cached_req_t cached;
    if (ins_cache_lookup(r, &cached) == CN_CACHE_HIT)
        return cn_reply_json_buf(r, 200);
    const char *q = json_string_value(json_object_get(r->query, "q"));
    json_t *jl = json_object_get(r->query, "limit");
    int64_t limit = jl ? json_integer_value(jl) : 20, offset = 0;
    const char *cursor = json_string_value(json_object_get(r->query, "cursor"));
    if (cursor) {
        char *end;
        offset = strtoll(cursor, &end, 10);
        if (*end || end == cursor || offset < 0 || offset >= SEARCH_CANDIDATES)
            return cn_fail_field(r, "cursor", "is not a cursor of this search");
    }
    cn_buf_t match = {0};
    if (ins_search_text(q, cn_store_is_postgres(r->store), &match) == 0) {
        cn_buf_free(&match);
        return cn_fail_field(r, "q", "must contain at least one letter or digit");
    }
    search_t *x = cn_calloc(1, sizeof(*x));
    snprintf(x->tenant, sizeof(x->tenant), "%s", cn_req_tenant(r));
    x->match = match.data;
    x->limit = limit;
    x->offset = offset;
    x->cached = cached;
    return cn_req_offload(r, search_work, search_done, x);
}
