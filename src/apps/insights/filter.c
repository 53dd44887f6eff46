/*
 * The filters of /insights and the CSV export, and the one SQL statement they become.
 * Lists of values are padded to a fixed number of parameters (the first value repeated),
 * so the statement text depends only on which filters are present: a few hundred
 * shapes at most, each prepared once per connection. Everything the client sends is a
 * bound parameter; nothing of it is pasted into SQL.
 */
#include "apps/insights/internal.h"
#include "lib/formats.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const sorts[] = {"timestamp", "sentiment", NULL};
static const char *const orders[] = {"desc", "asc", NULL};

#define FILTER_FIELDS                                                                              \
    {"from", CN_T_TIME, .description = "Earliest timestamp (incl.): Unix ms or RFC 3339"},         \
        {"to", CN_T_TIME, .description = "Latest timestamp (excl.): Unix ms or RFC 3339"},         \
        {"channels", CN_T_STRING, .min_len = 1, .max_len = 100,                                    \
         .description = "Comma-separated: web, mobile, email, chat, phone"},                       \
        {"segments", CN_T_STRING, .min_len = 1, .max_len = 660,                                    \
         .description = "Comma-separated customer segments (at most 10)"},                         \
        {"sentiment_min",                                                                          \
         CN_T_NUMBER,                                                                              \
         .has_min = 1,                                                                             \
         .min = -1,                                                                                \
         .has_max = 1,                                                                             \
         .max = 1,                                                                                 \
         .description = "Lowest compound score (only analysed interactions)"},                     \
        {"sentiment_max", CN_T_NUMBER, .has_min = 1, .min = -1, .has_max = 1, .max = 1},           \
        {"customer_id", CN_T_STRING, .format = CN_FMT_UUID},                                       \
        {"sort", CN_T_STRING, .enum_values = sorts,                                                \
         .description = "timestamp (default) or sentiment (analysed interactions only)"},          \
    {                                                                                              \
        "order", CN_T_STRING, .enum_values = orders, .description = "desc (default) or asc"        \
    }

static const cn_field_t list_fields[] = {
    FILTER_FIELDS,
    {"limit", CN_T_INTEGER, .has_min = 1, .min = 1, .has_max = 1, .max = 100,
     .description = "Page size (default 50, at most 100)"},
    {"cursor", CN_T_STRING, .max_len = 200, .description = "next_cursor of the previous page"},
    {"include_total", CN_T_BOOLEAN, .description = "Also count every match (slower)"},
    {0},
};
const cn_schema_t ins_list_query = {"InsightListQuery", list_fields};

static const cn_field_t export_fields[] = {FILTER_FIELDS, {0}};
const cn_schema_t ins_export_query = {"InteractionExportQuery", export_fields};

/* the time parameter name into *out, or CN_ENOTFOUND (out untouched) when absent */
static int parse_time(const json_t *q, const char *name, int64_t *out)
{
    int64_t ms;
    int rc = cn_schema_time(json_object_get(q, name), &ms);
    if (rc == 0)
        *out = ms;
    return rc;
}

int ins_filter_channels(const char *s, ins_filter_t *f, cn_verrors_t *errs)
{
    while (s != NULL && *s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        int c = ins_channel_index(s, len);
        if (c < 0) {
            cn_verrors_add(errs, "channels",
                           "unknown channel \"%.*s\" (allowed: web, mobile, "
                           "email, chat, phone)",
                           (int)(len > 20 ? 20 : len), s);
            return CN_EVALIDATION;
        }
        size_t i = 0;
        while (i < f->n_channels && f->channels[i] != ins_channels[c])
            i++;
        if (i == f->n_channels)
            f->channels[f->n_channels++] = ins_channels[c];
        s = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* "a,b" -> NUL-separated copies in f->segments_buf */
static int parse_segments(const char *s, ins_filter_t *f, cn_verrors_t *errs)
{
    char *out = f->segments_buf;
    while (s != NULL) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s), chars = 0;
        for (size_t i = 0; i < len; i++) /* the query was checked as UTF-8 */
            chars += ((unsigned char)s[i] & 0xC0) != 0x80;
        if (len == 0 || chars > INS_SEGMENT_MAX || len > INS_SEGMENT_BYTES) {
            cn_verrors_add(errs, "segments", "each segment must be 1-%d characters",
                           INS_SEGMENT_MAX);
            return CN_EVALIDATION;
        }
        if (f->n_segments == INS_LIST_MAX) {
            cn_verrors_add(errs, "segments", "at most %d segments", INS_LIST_MAX);
            return CN_EVALIDATION;
        }
        memcpy(out, s, len);
        out[len] = '\0';
        f->segments[f->n_segments++] = out;
        out += len + 1;
        s = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* cursor text: "t<ts>.<seq>" or "s<compound as %a>.<seq>", then base64url */
void ins_cursor_encode(const ins_filter_t *f, int64_t ts, double compound, int64_t seq, char *out,
                       size_t cap)
{
    char raw[96];
    int n = f->by_sentiment ? snprintf(raw, sizeof(raw), "s%a.%" PRId64, compound, seq)
                            : snprintf(raw, sizeof(raw), "t%" PRId64 ".%" PRId64, ts, seq);
    if (n < 0 || (size_t)n >= sizeof(raw) || cap < (size_t)n * 4 / 3 + 4) {
        out[0] = '\0';
        return;
    }
    cn_base64url_encode_fast((const uint8_t *)raw, (size_t)n, out);
}

static int parse_cursor(const char *s, ins_filter_t *f)
{
    uint8_t raw[160];
    size_t len = strlen(s);
    long n = len <= 200 ? cn_base64url_decode_fast(s, len, raw) : -1;
    if (n < 3 || n >= (long)sizeof(raw))
        return -1;
    raw[n] = '\0';
    char *dot = strrchr((char *)raw, '.'), *end;
    if (dot == NULL || raw[0] != (f->by_sentiment ? 's' : 't'))
        return -1;
    *dot = '\0';
    errno = 0;
    f->cursor_seq = strtoll(dot + 1, &end, 10);
    if (*end != '\0' || end == dot + 1 || errno != 0 || f->cursor_seq < 0)
        return -1;
    if (f->by_sentiment) {
        f->cursor_compound = strtod((char *)raw + 1, &end);
        if (!isfinite(f->cursor_compound))
            return -1;
    } else {
        f->cursor_ts = strtoll((char *)raw + 1, &end, 10);
    }
    if (*end != '\0' || end == (char *)raw + 1 || errno != 0)
        return -1;
    f->has_cursor = 1;
    return 0;
}

static void parse_sentiment(const json_t *q, ins_filter_t *f)
{
    json_t *lo = json_object_get(q, "sentiment_min"), *hi = json_object_get(q, "sentiment_max");
    f->has_smin = lo != NULL;
    f->has_smax = hi != NULL;
    f->smin = lo ? json_number_value(lo) : 0;
    f->smax = hi ? json_number_value(hi) : 0;
}

int ins_filter_parse(const json_t *q, ins_filter_t *f, cn_verrors_t *errs)
{
    memset(f, 0, sizeof(*f));
    f->from = INT64_MIN;
    f->to = INT64_MAX;
    f->limit = 50;
    size_t before = errs->count;
    if (parse_time(q, "from", &f->from) == CN_EINVAL)
        cn_verrors_add(errs, "from", "must be integer Unix milliseconds or an RFC 3339 date-time");
    if (parse_time(q, "to", &f->to) == CN_EINVAL)
        cn_verrors_add(errs, "to", "must be integer Unix milliseconds or an RFC 3339 date-time");
    if (f->from != INT64_MIN && f->to != INT64_MAX && f->from >= f->to)
        cn_verrors_add(errs, "to", "must be after from");
    ins_filter_channels(json_string_value(json_object_get(q, "channels")), f, errs);
    const char *segments = json_string_value(json_object_get(q, "segments"));
    if (segments)
        parse_segments(segments, f, errs);
    parse_sentiment(q, f);
    if (f->has_smin && f->has_smax && f->smin > f->smax)
        cn_verrors_add(errs, "sentiment_max", "must not be below sentiment_min");
    const char *customer = json_string_value(json_object_get(q, "customer_id"));
    f->customer_id = customer ? ins_customer_key(customer, f->customer_buf) : NULL;
    const char *sort = json_string_value(json_object_get(q, "sort"));
    const char *order = json_string_value(json_object_get(q, "order"));
    f->by_sentiment = sort != NULL && strcmp(sort, "sentiment") == 0;
    f->ascending = order != NULL && strcmp(order, "asc") == 0;
    json_t *limit = json_object_get(q, "limit");
    if (limit)
        f->limit = json_integer_value(limit);
    f->include_total = json_is_true(json_object_get(q, "include_total"));
    const char *cursor = json_string_value(json_object_get(q, "cursor"));
    if (cursor && parse_cursor(cursor, f) != 0)
        cn_verrors_add(errs, "cursor", "is not a cursor of this list (or of another sort order)");
    return errs->count == before ? 0 : CN_EVALIDATION;
}

/* SQL building: appends text and binds the next parameter */
typedef struct {
    char *sql;
    size_t len;
    cn_val_t *args;
    size_t n;
} builder_t;

static void text(builder_t *b, const char *s)
{
    size_t k = strlen(s);
    if (b->len + k < INS_SQL_MAX) {
        memcpy(b->sql + b->len, s, k + 1);
        b->len += k;
    }
}

static void param(builder_t *b, const char *before, cn_val_t v)
{
    char num[16];
    text(b, before);
    b->args[b->n++] = v;
    snprintf(num, sizeof(num), "$%zu", b->n);
    text(b, num);
}

/* "col IN ($a, $b, ...)" with exactly slots parameters */
static void in_list(builder_t *b, const char *head, const char *const *v, size_t n, size_t slots)
{
    text(b, head);
    for (size_t i = 0; i < slots; i++)
        param(b, i ? ", " : "", CN_VTEXT(v[i < n ? i : 0]));
    text(b, ")");
}

static void where(builder_t *b, const ins_filter_t *f, const char *tenant, int page)
{
    param(b, " WHERE tenant_id = ", CN_VTEXT(tenant));
    if (f->from != INT64_MIN)
        param(b, " AND ts >= ", CN_VINT(f->from));
    if (f->to != INT64_MAX)
        param(b, " AND ts < ", CN_VINT(f->to));
    if (f->n_channels == 1)
        param(b, " AND channel = ", CN_VTEXT(f->channels[0]));
    else if (f->n_channels > 1)
        in_list(b, " AND channel IN (", f->channels, f->n_channels, 5);
    /* A page in time order walks the time index and stops at its end: the sentiment
     * bounds are then checked on each row ("+" keeps SQLite from choosing the sentiment
     * index, which would read every match of all time and sort them). A count or an
     * export reads every match anyway: there the sentiment index may serve a narrow band. */
    const char *compound = page && !f->by_sentiment ? " AND +s_compound" : " AND s_compound";
    if (f->has_smin || f->has_smax || f->by_sentiment) {
        text(b, compound);
        text(b, " IS NOT NULL");
    }
    if (f->has_smin) {
        text(b, compound);
        param(b, " >= ", CN_VREAL(f->smin));
    }
    if (f->has_smax) {
        text(b, compound);
        param(b, " <= ", CN_VREAL(f->smax));
    }
    if (f->customer_id)
        param(b, " AND customer_id = ", CN_VTEXT(f->customer_id));
    if (f->n_segments) {
        param(b, " AND customer_id IN (SELECT external_id FROM customers WHERE tenant_id = ",
              CN_VTEXT(tenant));
        in_list(b, " AND segment IN (", f->segments, f->n_segments, INS_LIST_MAX);
        text(b, ")");
    }
}

size_t ins_filter_sql(const ins_filter_t *f, const char *tenant, const char *select, int page,
                      char *sql, cn_val_t *args)
{
    builder_t b = {sql, 0, args, 0};
    sql[0] = '\0';
    text(&b, select);
    where(&b, f, tenant, page);
    if (!page)
        return b.n;
    const char *key = f->by_sentiment ? "s_compound" : "ts";
    if (f->has_cursor) {
        char head[64];
        snprintf(head, sizeof(head), " AND (%s, seq) %s (", key, f->ascending ? ">" : "<");
        param(&b, head, f->by_sentiment ? CN_VREAL(f->cursor_compound) : CN_VINT(f->cursor_ts));
        param(&b, ", ", CN_VINT(f->cursor_seq));
        text(&b, ")");
    }
    const char *dir = f->ascending ? " ASC" : " DESC";
    text(&b, " ORDER BY ");
    text(&b, key);
    text(&b, dir);
    text(&b, ", seq");
    text(&b, dir);
    param(&b, " LIMIT ", CN_VINT(f->limit + 1));
    return b.n;
}
