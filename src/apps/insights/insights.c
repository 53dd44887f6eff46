/*
 * The customer-insights app (see insights.h): its tables, routes and permissions, the
 * tenant settings, and the response cache every read shares. Every statement filters on
 * tenant_id; an object of another tenant is indistinguishable from a missing one.
 */
#include "apps/insights/insights.h"
#include "apps/insights/answers.h"
#include "apps/insights/internal.h"
#include "core/page.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

const char *const ins_channels[] = {"web", "mobile", "email", "chat", "phone", NULL};

const char *ins_customer_key(const char *in, char out[CN_UUID_LEN + 1])
{
    size_t i = 0;
    for (; in != NULL && in[i] && i < CN_UUID_LEN; i++)
        out[i] = in[i] >= 'A' && in[i] <= 'Z' ? (char)(in[i] - 'A' + 'a') : in[i];
    out[i] = '\0';
    return out;
}

static int same_segment(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

ins_rollup_t *ins_rollup_entry(ins_rollup_t *t, size_t *n, int64_t ts, int channel,
                               const char *segment)
{
    int64_t bucket = ts - ts % INS_ROLLUP_MS;
    size_t j = 0;
    while (j < *n && (t[j].bucket != bucket || t[j].channel != channel ||
                      !same_segment(t[j].segment, segment)))
        j++;
    if (j == *n)
        t[(*n)++] = (ins_rollup_t){.bucket = bucket, .channel = channel, .segment = segment};
    return &t[j];
}

int ins_segment_copy(const char *v, size_t len, char out[INS_SEGMENT_BYTES + 1], cn_err_t *err)
{
    if (v != NULL && len > INS_SEGMENT_BYTES)
        return cn_err_set(err, CN_ERR, "a customer's segment is longer than %d bytes",
                          INS_SEGMENT_BYTES);
    memcpy(out, v ? v : "", v ? len : 0);
    out[v ? len : 0] = '\0';
    return 0;
}

#define ROLLUP_COLS 11
static cn_rows_sql_t add_rollups = {
    "INSERT INTO insight_rollups (tenant_id, segment, channel, bucket, interactions, processed,"
    " analysed, positive, neutral, negative, compound_sum)",
    ROLLUP_COLS,
    "ON CONFLICT (tenant_id, segment, channel, bucket) DO UPDATE SET"
    " interactions = insight_rollups.interactions + excluded.interactions,"
    " processed = insight_rollups.processed + excluded.processed,"
    " analysed = insight_rollups.analysed + excluded.analysed,"
    " positive = insight_rollups.positive + excluded.positive,"
    " neutral = insight_rollups.neutral + excluded.neutral,"
    " negative = insight_rollups.negative + excluded.negative,"
    " compound_sum = insight_rollups.compound_sum + excluded.compound_sum"};

/* the rollups' key order after the tenant: segment ("" for all customers), channel, bucket */
static int by_rollup_key(const void *a, const void *b)
{
    const ins_rollup_t *x = *(const ins_rollup_t *const *)a, *y = *(const ins_rollup_t *const *)b;
    int c = strcmp(x->segment ? x->segment : "", y->segment ? y->segment : "");
    if (c == 0)
        c = strcmp(ins_rollup_channel(x->channel), ins_rollup_channel(y->channel));
    return c != 0 ? c : (x->bucket > y->bucket) - (x->bucket < y->bucket);
}

/* Rows are written in key order: concurrent transactions (other nodes on PostgreSQL) then
 * lock shared rows in one order and cannot deadlock. */
int ins_rollups_add(cn_store_t *s, const char *tenant, const ins_rollup_t *t, size_t n,
                    cn_err_t *err)
{
    if (n == 0)
        return 0;
    const ins_rollup_t **order = cn_malloc(n * sizeof(ins_rollup_t *));
    for (size_t i = 0; i < n; i++)
        order[i] = &t[i];
    qsort(order, n, sizeof(ins_rollup_t *), by_rollup_key);
    cn_val_t a[CN_ROWS_MAX * ROLLUP_COLS];
    int rc = 0;
    for (size_t done = 0; done < n && rc == 0; done += CN_ROWS_MAX) {
        size_t k = n - done < CN_ROWS_MAX ? n - done : CN_ROWS_MAX;
        for (size_t i = 0; i < k; i++) {
            const ins_rollup_t *e = order[done + i];
            cn_val_t *v = a + i * ROLLUP_COLS;
            v[0] = CN_VTEXT(tenant);
            v[1] = CN_VTEXT(e->segment ? e->segment : "");
            v[2] = CN_VTEXT(ins_rollup_channel(e->channel));
            v[3] = CN_VINT(e->bucket);
            v[4] = CN_VINT(e->interactions);
            v[5] = CN_VINT(e->processed);
            v[6] = CN_VINT(e->labels[0] + e->labels[1] + e->labels[2]);
            for (int l = 0; l < 3; l++)
                v[7 + l] = CN_VINT(e->labels[l]);
            v[10] = CN_VREAL(e->compound_sum);
        }
        rc = cn_store_exec(s, cn_rows_sql(&add_rollups, k), a, k * ROLLUP_COLS, NULL, err);
    }
    free(order);
    return rc;
}

const char *ins_rollup_channel(int channel)
{
    return channel == INS_ALL ? INS_ALL_CHANNELS : ins_channels[channel];
}

int ins_channel_index(const char *s, size_t len)
{
    for (int i = 0; ins_channels[i]; i++)
        if (strlen(ins_channels[i]) == len && memcmp(ins_channels[i], s, len) == 0)
            return i;
    return -1;
}

/*
 * interactions.seq is the row id: the search index's key, the order the analysis job
 * walks a chunk in, and the tie-break of every sorted list (an index ends with the row id
 * anyway, so ties cost no extra key bytes). Every index is paid for by every insert (the
 * write path is the throughput limit), so there are only four: idempotent retries,
 * time-ordered lists and ranges (a channel filter walks this one too: a channel is at
 * least a fifth of the traffic, so a page needs a few hundred index steps), one
 * customer's history (profile, patterns) and lists sorted or filtered by sentiment. The
 * public id needs no index: nothing looks an interaction up by it. insight_rollups holds
 * 15-minute aggregates per channel and customer segment, from which trends and metrics are
 * read without touching the interactions of the period.
 */
/*
 * PostgreSQL's schema (see cn_migration_t): the tables as the four SQLite migrations leave
 * them, created at version 1 (the later versions are "" on PostgreSQL). BIGINT for every
 * integer and DOUBLE PRECISION for every real (PostgreSQL's INTEGER and REAL are 32 bits:
 * the times are Unix ms, and the sentiment cursor round-trips s_compound exactly), BYTEA
 * for the raw import body, no WITHOUT ROWID. interactions.seq is assigned by the code; on
 * PostgreSQL from interactions_seq, a block of INS_CHUNK (100) numbers per call, so nodes
 * inserting at once never take the same seq. The search index is a table keyed by seq
 * whose tsvector column a GIN index serves; its text search configuration folds accents
 * like FTS5's remove_diacritics, which needs the unaccent extension (in PostgreSQL's
 * contrib; a trusted extension, so the database's owner may create it).
 */
static const char insights_pg[] =
    "CREATE TABLE customers ("
    " tenant_id TEXT NOT NULL,"
    " external_id TEXT NOT NULL,"
    " email TEXT,"
    " segment TEXT,"
    " metadata TEXT NOT NULL DEFAULT '{}',"
    " first_seen BIGINT,"
    " last_seen BIGINT,"
    " interaction_count BIGINT NOT NULL DEFAULT 0,"
    " sentiment_count BIGINT NOT NULL DEFAULT 0,"
    " sentiment_sum DOUBLE PRECISION NOT NULL DEFAULT 0,"
    " average_sentiment DOUBLE PRECISION,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " rollup_segment TEXT,"
    " PRIMARY KEY (tenant_id, external_id));"
    "CREATE INDEX customers_segment ON customers (tenant_id, segment, external_id);"
    "CREATE INDEX customers_last_seen ON customers (tenant_id, last_seen, external_id);"
    "CREATE TABLE interactions ("
    " seq BIGINT PRIMARY KEY,"
    " tenant_id TEXT NOT NULL,"
    " id TEXT NOT NULL,"
    " customer_id TEXT NOT NULL,"
    " ts BIGINT NOT NULL,"
    " channel TEXT NOT NULL CHECK (channel IN ('web', 'mobile', 'email', 'chat', 'phone')),"
    " event_type TEXT NOT NULL,"
    " content TEXT,"
    " metadata TEXT,"
    " device TEXT, os TEXT, client TEXT, country TEXT, city TEXT,"
    " idempotency_key TEXT,"
    " sentiment TEXT CHECK (sentiment IN ('positive', 'neutral', 'negative')),"
    " s_pos DOUBLE PRECISION, s_neu DOUBLE PRECISION, s_neg DOUBLE PRECISION,"
    " s_compound DOUBLE PRECISION,"
    " s_confidence DOUBLE PRECISION CHECK (s_confidence BETWEEN 0 AND 1),"
    " processed_at BIGINT,"
    " created_at BIGINT NOT NULL);"
    "CREATE SEQUENCE interactions_seq INCREMENT BY 100;"
    "CREATE UNIQUE INDEX interactions_idem ON interactions (tenant_id, idempotency_key)"
    " WHERE idempotency_key IS NOT NULL;"
    "CREATE INDEX interactions_ts ON interactions (tenant_id, ts);"
    "CREATE INDEX interactions_customer ON interactions (tenant_id, customer_id, ts);"
    "CREATE INDEX interactions_compound ON interactions (tenant_id, s_compound)"
    " WHERE s_compound IS NOT NULL;"
    "CREATE EXTENSION IF NOT EXISTS unaccent;"
    "CREATE TEXT SEARCH CONFIGURATION cairn_search (COPY = simple);"
    "ALTER TEXT SEARCH CONFIGURATION cairn_search"
    " ALTER MAPPING FOR word, hword, hword_part, asciiword, asciihword, hword_asciipart"
    " WITH unaccent, simple;"
    "CREATE TABLE interactions_fts ("
    " seq BIGINT PRIMARY KEY,"
    " tenant_id TEXT NOT NULL,"
    " body TEXT NOT NULL,"
    " doc tsvector GENERATED ALWAYS AS (to_tsvector('cairn_search'::regconfig, body)) STORED);"
    "CREATE INDEX interactions_fts_doc ON interactions_fts USING gin (doc);"
    "CREATE TABLE insight_rollups ("
    " tenant_id TEXT NOT NULL,"
    " segment TEXT NOT NULL,"
    " channel TEXT NOT NULL,"
    " bucket BIGINT NOT NULL,"
    " interactions BIGINT NOT NULL DEFAULT 0,"
    " processed BIGINT NOT NULL DEFAULT 0,"
    " analysed BIGINT NOT NULL DEFAULT 0,"
    " positive BIGINT NOT NULL DEFAULT 0,"
    " neutral BIGINT NOT NULL DEFAULT 0,"
    " negative BIGINT NOT NULL DEFAULT 0,"
    " compound_sum DOUBLE PRECISION NOT NULL DEFAULT 0,"
    " PRIMARY KEY (tenant_id, segment, channel, bucket));"
    "CREATE TABLE behavior_patterns ("
    " tenant_id TEXT NOT NULL,"
    " customer_id TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " channel TEXT NOT NULL DEFAULT '',"
    " confidence DOUBLE PRECISION NOT NULL CHECK (confidence >= 0 AND confidence <= 1),"
    " frequency DOUBLE PRECISION NOT NULL CHECK (frequency > 0),"
    " description TEXT NOT NULL,"
    " metadata TEXT NOT NULL DEFAULT '{}',"
    " detected_at BIGINT NOT NULL,"
    " valid_until BIGINT NOT NULL,"
    " PRIMARY KEY (tenant_id, customer_id, type, channel));"
    "CREATE TABLE insight_settings ("
    " tenant_id TEXT PRIMARY KEY,"
    " timezone TEXT NOT NULL,"
    " updated_at BIGINT NOT NULL);"
    "CREATE TABLE insight_imports ("
    " tenant_id TEXT NOT NULL,"
    " id TEXT NOT NULL,"
    " job_id TEXT,"
    " csv BYTEA NOT NULL,"
    " bytes BIGINT NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'queued',"
    " next_record BIGINT NOT NULL DEFAULT 2,"
    " rows_done BIGINT NOT NULL DEFAULT 0,"
    " rows_failed BIGINT NOT NULL DEFAULT 0,"
    " created_at BIGINT NOT NULL,"
    " finished_at BIGINT,"
    " PRIMARY KEY (tenant_id, id));"
    "CREATE TABLE insight_import_errors ("
    " tenant_id TEXT NOT NULL,"
    " import_id TEXT NOT NULL,"
    " record BIGINT NOT NULL,"
    " line BIGINT NOT NULL,"
    " message TEXT NOT NULL,"
    " PRIMARY KEY (tenant_id, import_id, record))";

static const cn_migration_t migrations[] = {
    {1, "create_insights",
     "CREATE TABLE customers ("
     " tenant_id TEXT NOT NULL,"
     " external_id TEXT NOT NULL,"
     " email TEXT,"
     " segment TEXT,"
     " metadata TEXT NOT NULL DEFAULT '{}',"
     " first_seen INTEGER,"
     " last_seen INTEGER,"
     " interaction_count INTEGER NOT NULL DEFAULT 0,"
     " sentiment_count INTEGER NOT NULL DEFAULT 0,"
     " sentiment_sum REAL NOT NULL DEFAULT 0,"
     " average_sentiment REAL,"
     " created_at INTEGER NOT NULL,"
     " updated_at INTEGER NOT NULL,"
     " PRIMARY KEY (tenant_id, external_id));"
     "CREATE INDEX customers_segment ON customers (tenant_id, segment, external_id);"
     "CREATE INDEX customers_last_seen ON customers (tenant_id, last_seen, external_id);"
     "CREATE TABLE interactions ("
     " seq INTEGER PRIMARY KEY,"
     " tenant_id TEXT NOT NULL,"
     " id TEXT NOT NULL,"
     " customer_id TEXT NOT NULL,"
     " ts INTEGER NOT NULL,"
     " channel TEXT NOT NULL CHECK (channel IN ('web', 'mobile', 'email', 'chat', 'phone')),"
     " event_type TEXT NOT NULL,"
     " content TEXT,"
     " metadata TEXT,"
     " device TEXT, os TEXT, client TEXT, country TEXT, city TEXT,"
     " idempotency_key TEXT,"
     " sentiment TEXT CHECK (sentiment IN ('positive', 'neutral', 'negative')),"
     " s_pos REAL, s_neu REAL, s_neg REAL, s_compound REAL,"
     " s_confidence REAL CHECK (s_confidence BETWEEN 0 AND 1),"
     " processed_at INTEGER,"
     " created_at INTEGER NOT NULL);"
     "CREATE UNIQUE INDEX interactions_idem ON interactions (tenant_id, idempotency_key)"
     " WHERE idempotency_key IS NOT NULL;"
     "CREATE INDEX interactions_ts ON interactions (tenant_id, ts);"
     "CREATE INDEX interactions_customer ON interactions (tenant_id, customer_id, ts);"
     "CREATE INDEX interactions_compound ON interactions (tenant_id, s_compound)"
     " WHERE s_compound IS NOT NULL;"
     /* the preprocessed content, keyed by seq; a search joins interactions for the tenant
      * (a per-tenant token would make every insert grow one huge posting list, and every
      * search intersect with it); detail=column: no positions, a much smaller index */
     "CREATE VIRTUAL TABLE interactions_fts USING fts5(body,"
     " tokenize = 'unicode61 remove_diacritics 2', detail = column);"
     "CREATE TABLE insight_rollups ("
     " tenant_id TEXT NOT NULL,"
     " bucket INTEGER NOT NULL,"
     " channel TEXT NOT NULL,"
     " interactions INTEGER NOT NULL DEFAULT 0,"
     " processed INTEGER NOT NULL DEFAULT 0,"
     " analysed INTEGER NOT NULL DEFAULT 0,"
     " positive INTEGER NOT NULL DEFAULT 0,"
     " neutral INTEGER NOT NULL DEFAULT 0,"
     " negative INTEGER NOT NULL DEFAULT 0,"
     " compound_sum REAL NOT NULL DEFAULT 0,"
     " PRIMARY KEY (tenant_id, channel, bucket)) WITHOUT ROWID;"
     "CREATE TABLE behavior_patterns ("
     " tenant_id TEXT NOT NULL,"
     " customer_id TEXT NOT NULL,"
     " type TEXT NOT NULL,"
     " channel TEXT NOT NULL DEFAULT '',"
     " confidence REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 1),"
     " frequency REAL NOT NULL CHECK (frequency > 0),"
     " description TEXT NOT NULL,"
     " metadata TEXT NOT NULL DEFAULT '{}',"
     " detected_at INTEGER NOT NULL,"
     " valid_until INTEGER NOT NULL,"
     " PRIMARY KEY (tenant_id, customer_id, type, channel));"
     "CREATE TABLE insight_settings ("
     " tenant_id TEXT PRIMARY KEY,"
     " timezone TEXT NOT NULL,"
     " updated_at INTEGER NOT NULL);"
     "CREATE TABLE insight_imports ("
     " tenant_id TEXT NOT NULL,"
     " id TEXT NOT NULL,"
     " job_id TEXT,"
     " csv BLOB NOT NULL,"
     " bytes INTEGER NOT NULL,"
     " state TEXT NOT NULL DEFAULT 'queued',"
     " next_record INTEGER NOT NULL DEFAULT 2,"
     " rows_done INTEGER NOT NULL DEFAULT 0,"
     " rows_failed INTEGER NOT NULL DEFAULT 0,"
     " created_at INTEGER NOT NULL,"
     " finished_at INTEGER,"
     " PRIMARY KEY (tenant_id, id));"
     "CREATE TABLE insight_import_errors ("
     " tenant_id TEXT NOT NULL,"
     " import_id TEXT NOT NULL,"
     " record INTEGER NOT NULL,"
     " line INTEGER NOT NULL,"
     " message TEXT NOT NULL,"
     " PRIMARY KEY (tenant_id, import_id, record))",
     insights_pg},
    /* A search checks each match's tenant on the index entry's own row (an unindexed
     * column: no posting list), which ranking reads anyway, instead of looking up the wide
     * interactions row; full detail lets BM25 take term positions from the index instead
     * of tokenising each candidate's text again. Together they halve a search's work. */
    {2, "search_by_tenant",
     "CREATE VIRTUAL TABLE interactions_fts2 USING fts5(body, tenant_id UNINDEXED,"
     " tokenize = 'unicode61 remove_diacritics 2', detail = full);"
     "INSERT INTO interactions_fts2 (rowid, body, tenant_id)"
     " SELECT f.rowid, f.body, i.tenant_id FROM interactions_fts f"
     " JOIN interactions i ON i.seq = f.rowid;"
     "DROP TABLE interactions_fts;"
     "ALTER TABLE interactions_fts2 RENAME TO interactions_fts",
     ""},
    /* Segment merging runs in steps with each commit (staging.c), not in FTS5's occasional
     * large automatic merges, which held the write lock for tens of milliseconds. */
    {3, "search_merge_in_steps",
     "INSERT INTO interactions_fts (interactions_fts, rank) VALUES ('automerge', 0)", ""},
    /* Rollups per customer segment as well (segment "" holds all customers): the segment
     * filters and the breakdown by segment read slots instead of every interaction of the
     * range. The segmented rows of the data already stored are computed here once. */
    {4, "rollups_by_segment",
     "ALTER TABLE customers ADD COLUMN rollup_segment TEXT;"
     "UPDATE customers SET rollup_segment = segment;"
     "CREATE TABLE insight_rollups2 ("
     " tenant_id TEXT NOT NULL,"
     " segment TEXT NOT NULL,"
     " channel TEXT NOT NULL,"
     " bucket INTEGER NOT NULL,"
     " interactions INTEGER NOT NULL DEFAULT 0,"
     " processed INTEGER NOT NULL DEFAULT 0,"
     " analysed INTEGER NOT NULL DEFAULT 0,"
     " positive INTEGER NOT NULL DEFAULT 0,"
     " neutral INTEGER NOT NULL DEFAULT 0,"
     " negative INTEGER NOT NULL DEFAULT 0,"
     " compound_sum REAL NOT NULL DEFAULT 0,"
     " PRIMARY KEY (tenant_id, segment, channel, bucket)) WITHOUT ROWID;"
     "INSERT INTO insight_rollups2 SELECT tenant_id, '', channel, bucket, interactions,"
     " processed, analysed, positive, neutral, negative, compound_sum FROM insight_rollups;"
     "INSERT INTO insight_rollups2 SELECT i.tenant_id, c.segment, i.channel,"
     " i.ts - i.ts % 900000, COUNT(*), COUNT(i.processed_at), COUNT(i.sentiment),"
     " COUNT(CASE WHEN i.sentiment = 'positive' THEN 1 END),"
     " COUNT(CASE WHEN i.sentiment = 'neutral' THEN 1 END),"
     " COUNT(CASE WHEN i.sentiment = 'negative' THEN 1 END), COALESCE(SUM(i.s_compound), 0)"
     " FROM interactions i JOIN customers c"
     " ON c.tenant_id = i.tenant_id AND c.external_id = i.customer_id"
     " WHERE c.segment IS NOT NULL AND c.segment <> '' GROUP BY i.tenant_id, c.segment, i.channel, "
     "4;"
     "INSERT INTO insight_rollups2 SELECT i.tenant_id, c.segment, '*',"
     " i.ts - i.ts % 900000, COUNT(*), COUNT(i.processed_at), COUNT(i.sentiment),"
     " COUNT(CASE WHEN i.sentiment = 'positive' THEN 1 END),"
     " COUNT(CASE WHEN i.sentiment = 'neutral' THEN 1 END),"
     " COUNT(CASE WHEN i.sentiment = 'negative' THEN 1 END), COALESCE(SUM(i.s_compound), 0)"
     " FROM interactions i JOIN customers c"
     " ON c.tenant_id = i.tenant_id AND c.external_id = i.customer_id"
     " WHERE c.segment IS NOT NULL AND c.segment <> '' GROUP BY i.tenant_id, c.segment, 4;"
     "DROP TABLE insight_rollups;"
     "ALTER TABLE insight_rollups2 RENAME TO insight_rollups",
     ""},
    {0},
};

/* ---- settings ---- */

static const cn_field_t settings_fields[] = {
    {"timezone", CN_T_STRING, .required = 1, .min_len = 1, .max_len = CN_TZ_NAME_MAX - 1,
     .description = "IANA time zone of the tenant's reports (\"Europe/Paris\")"},
    {0},
};
const cn_schema_t ins_settings_schema = {"InsightSettings", settings_fields};

int ins_tenant_tz(cn_store_t *s, const char *tenant, char name[CN_TZ_NAME_MAX], cn_err_t *err)
{
    cn_val_t a[] = {CN_VTEXT(tenant)};
    int rc = cn_store_one_text(s, "SELECT timezone FROM insight_settings WHERE tenant_id = $1", a,
                               1, name, CN_TZ_NAME_MAX, err);
    if (rc == CN_ENOTFOUND) /* never set */
        snprintf(name, CN_TZ_NAME_MAX, "UTC");
    return rc == CN_ENOTFOUND ? 0 : rc;
}

static int reply_settings(cn_req_t *r, const char *tz)
{
    return cn_reply_json(r, 200, json_pack("{s:s}", "timezone", tz));
}

int ins_get_settings(cn_req_t *r)
{
    char tz[CN_TZ_NAME_MAX];
    int rc = ins_tenant_tz(r->store, cn_req_tenant(r), tz, &r->err);
    return rc != 0 ? rc : reply_settings(r, tz);
}

int ins_put_settings(cn_req_t *r)
{
    const char *tz = json_string_value(json_object_get(r->body, "timezone"));
    if (!cn_tz_valid(tz))
        return cn_fail_field(r, "timezone", "is not an IANA time zone name");
    cn_val_t a[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(tz), CN_VINT(cn_now_ms())};
    int rc = cn_store_exec(r->store,
                           "INSERT INTO insight_settings (tenant_id, timezone, updated_at)"
                           " VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO UPDATE"
                           " SET timezone = excluded.timezone, updated_at = excluded.updated_at",
                           a, 3, NULL, &r->err);
    if (rc != 0)
        return rc;
    cn_cache_invalidate(cn_req_tenant(r), INS_TAG); /* trends depend on the zone */
    return reply_settings(r, tz);
}

/* ---- cache ---- */

static const char *const cache_tags[] = {INS_TAG, NULL};

int ins_cache_lookup(cn_req_t *r, cn_cached_req_t *c)
{
    return cn_cache_request(r, cache_tags, c);
}

/* ---- events ---- */

void ins_items_open(cn_jw_t *w, cn_buf_t *b, size_t n)
{
    cn_jw_init(w, b);
    cn_jw_object(w);
    cn_jw_key(w, "count"); /* first: the metrics subscriber reads it without parsing */
    cn_jw_int(w, (int64_t)n);
    cn_jw_key(w, "items");
    cn_jw_array(w);
}

int ins_items_publish(cn_store_t *s, const char *tenant, const char *type, cn_jw_t *w,
                      cn_err_t *err)
{
    cn_jw_end(w);
    cn_jw_end(w);
    int rc = cn_event_publish_text(s, tenant, INS_CHANNEL, type, w->b->data, w->b->len, err);
    cn_buf_free(w->b);
    return rc;
}

/* ---- metrics ---- */

static _Atomic uint64_t n_ingested, n_analysed, n_pattern_runs, n_rejected;

void ins_count_rejected(uint64_t n)
{
    atomic_fetch_add_explicit(&n_rejected, n, memory_order_relaxed);
}

/* {"count":N,... -> N (the events this module publishes put it first) */
static uint64_t event_count(const cn_event_t *ev)
{
    static const char head[] = "{\"count\":";
    if (ev->data_len < sizeof(head) || memcmp(ev->data, head, sizeof(head) - 1) != 0)
        return 0;
    return strtoull(ev->data + sizeof(head) - 1, NULL, 10);
}

static void collect(cn_buf_t *out, void *data)
{
    (void)data;
    static const cn_metric_def_t series[] = {
        {"cairn_insights_interactions_ingested_total", "counter",
         "Interactions committed by ingest, batches and imports (duplicates excluded)."},
        {"cairn_insights_interactions_rejected_total", "counter",
         "Interactions refused by validation (single, batch items, import rows)."},
        {"cairn_insights_interactions_analysed_total", "counter",
         "Interactions whose sentiment analysis committed."},
        {"cairn_insights_pattern_runs_total", "counter", "Committed behaviour-pattern detections."},
    };
    const uint64_t values[] = {atomic_load(&n_ingested), atomic_load(&n_rejected),
                               atomic_load(&n_analysed), atomic_load(&n_pattern_runs)};
    _Static_assert(CN_ARRAY_SIZE(series) == CN_ARRAY_SIZE(values), "one value per series");
    cn_metrics_render_plain(out, series, values, CN_ARRAY_SIZE(series));
}

/* every committed change of a tenant's interactions, sentiment or patterns */
static void on_event(const cn_event_t *ev, void *ud)
{
    (void)ud;
    if (strcmp(ev->channel, INS_CHANNEL) != 0)
        return;
    cn_cache_invalidate(ev->tenant_id, INS_TAG);
    if (strcmp(ev->type, "interaction.created") == 0)
        atomic_fetch_add_explicit(&n_ingested, event_count(ev), memory_order_relaxed);
    else if (strcmp(ev->type, "sentiment.analyzed") == 0)
        atomic_fetch_add_explicit(&n_analysed, event_count(ev), memory_order_relaxed);
    else if (strcmp(ev->type, "patterns.detected") == 0)
        atomic_fetch_add_explicit(&n_pattern_runs, 1, memory_order_relaxed);
}

/* ---- module ---- */

/* The module's configuration keys: filled by the loader before start reads them. */
static struct {
    char *geoip_db;      /* .mmdb file for IP geolocation; empty: none */
    int pattern_delay_s; /* patterns are recomputed this long after new interactions */
} ins_settings;

static const cn_setting_t settings[] = {
    {"insights.geoip_db", "CAIRN_INSIGHTS_GEOIP_DB", NULL, CN_SET_STRING, "",
     .slot = &ins_settings.geoip_db, .check = CN_CHECK_FILE,
     .help = "MaxMind `.mmdb` (City or Country) that geolocates interaction IPs; empty = no"
             " geolocation; a file that cannot be opened stops the server"},
    {"insights.pattern_delay_s", "CAIRN_INSIGHTS_PATTERN_DELAY_S", NULL, CN_SET_INT, "60", 0, 86400,
     .slot = &ins_settings.pattern_delay_s,
     .help = "behaviour patterns are recomputed this long after new interactions (one run per"
             " customer per window); 0 = at once"},
    {NULL},
};

static int start(const cn_config_t *cfg, cn_store_t *store, cn_err_t *err)
{
    (void)cfg, (void)store;
    cn_store_add_hook(&ins_stage_hook);
    ins_set_pattern_delay((int64_t)ins_settings.pattern_delay_s * 1000);
    return ins_geoip_start(ins_settings.geoip_db, err);
}

static void stop(void)
{
    ins_geoip_stop();
}

static const cn_route_t routes[] = {
    {CN_POST, "/api/v1/interactions", ins_ingest_one, "insights.write", .prepare = ins_prepare_one,
     .body = &ins_interaction_schema,
     .summary = "Ingest one interaction (Idempotency-Key honoured)", .success_status = 201,
     .response = &ins_ingested_answer, .also = ins_ingest_also, .idempotency_key = 1,
     .operation = "interactions.create"},
    {CN_POST, "/api/v1/interactions/batch", ins_ingest_batch, "insights.write",
     .prepare = ins_prepare_batch, .body = &ins_batch_schema,
     .summary = "Ingest up to 1000 interactions; each chunk of 100 commits on its own and the "
                "answer lists, per item, its id or its errors",
     .response = &ins_batch_answer, .idempotency_key = 1, .operation = "interactions.createBatch"},
    {CN_POST, "/api/v1/interactions/import", ins_import, "insights.write", .raw_body = "text/csv",
     .summary = "Import a CSV file (text/csv) as a background job", .success_status = 202,
     .response = &ins_import_queued_answer, .operation = "interactions.import"},
    {CN_GET, "/api/v1/interactions/imports/{id}", ins_get_import, "insights.write",
     .params = &cn_id_param, .summary = "An import's state and row counts",
     .response = &ins_import_answer, .operation = "interactions.getImport"},
    {CN_GET, "/api/v1/interactions/imports/{id}/errors", ins_import_errors, "insights.write",
     .params = &cn_id_param, .summary = "An import's rejected rows as CSV (record, line, error)",
     .response_type = "text/csv", .operation = "interactions.importErrors"},
    {CN_GET, "/api/v1/interactions/export", ins_export, "insights.read", .query = &ins_export_query,
     .summary = "Stream the filtered interactions as CSV", .response_type = "text/csv",
     .operation = "interactions.export"},
    {CN_GET, "/api/v1/interactions/search", ins_search, "insights.read", .query = &ins_search_query,
     .summary = "Full-text search over interaction content, ranked, with highlighted snippets",
     .response = &ins_search_answer, .operation = "interactions.search"},
    {CN_GET, "/api/v1/insights", ins_list, "insights.read", .query = &ins_list_query,
     .summary = "Interactions with their sentiment, filtered, sorted and paginated",
     .response = &ins_list_answer, .operation = "insights.list"},
    {CN_GET, "/api/v1/insights/sentiment-trends", ins_trends, "insights.read",
     .query = &ins_trends_query, .summary = "Sentiment per hour, day, week or month (tenant zone)",
     .response = &ins_trends_answer, .operation = "insights.trends"},
    {CN_GET, "/api/v1/insights/metrics", ins_metrics, "insights.read", .query = &ins_metrics_query,
     .summary = "Counts by channel, sentiment distribution, active customers, averages",
     .response = &ins_metrics_answer, .operation = "insights.metrics"},
    {CN_GET, "/api/v1/insights/settings", ins_get_settings, "insights.read",
     .summary = "The tenant's report settings", .response = &ins_settings_answer,
     .operation = "insights.getSettings"},
    {CN_PUT, "/api/v1/insights/settings", ins_put_settings, "insights.manage",
     .body = &ins_settings_schema, .summary = "Set the tenant's report time zone",
     .response = &ins_settings_answer, .operation = "insights.putSettings"},
    {CN_POST, "/api/v1/sentiment", ins_sentiment_one, "insights.read",
     .body = &ins_sentiment_schema, .no_write = 1, .summary = "Score one text with VADER",
     .response = &ins_sentiment_answer, .operation = "sentiment.score"},
    {CN_POST, "/api/v1/sentiment/batch", ins_sentiment_batch, "insights.read",
     .body = &ins_sentiment_batch_schema, .no_write = 1,
     .summary = "Score up to 256 texts with VADER", .response = &ins_sentiment_batch_answer,
     .operation = "sentiment.scoreBatch"},
    {CN_GET, "/api/v1/customers", ins_list_customers, "insights.read",
     .query = &ins_customers_query, .summary = "Customers, most recently seen first",
     .response = &ins_customer_list_answer, .operation = "customers.list"},
    {CN_GET, "/api/v1/customers/{id}", ins_get_customer, "insights.read",
     .params = &ins_customer_param,
     .summary = "A customer's profile, aggregates and recent interactions",
     .response = &ins_customer_profile_answer, .operation = "customers.get"},
    {CN_PUT, "/api/v1/customers/{id}", ins_put_customer, "insights.write",
     .params = &ins_customer_param, .body = &ins_customer_schema,
     .summary = "Create or change a customer's e-mail, segment and metadata",
     .response = &ins_customer_answer, .operation = "customers.put"},
    {CN_GET, "/api/v1/customers/{id}/patterns", ins_get_patterns, "insights.read",
     .params = &ins_customer_param, .summary = "The customer's current behaviour patterns",
     .response = &ins_patterns_answer, .operation = "customers.patterns"},
    {0},
};

static const cn_permission_t permissions[] = {
    {"insights.read", "Read interactions, insights, customers and patterns; score texts",
     CN_ROLES_ALL},
    {"insights.write", "Ingest and import interactions, change customers", CN_ROLES_MEMBERS},
    {"insights.manage", "Change the tenant's insights settings", CN_ROLES_ADMINS},
    {0},
};

static const cn_channel_t channels[] = {
    {INS_CHANNEL, "insights.read",
     "interaction.created, sentiment.analyzed, patterns.detected (data: {items: [...]})"},
    {0},
};

static const cn_job_type_t jobs[] = {
    {"insights.analyse", ins_run_analysis, .max_attempts = 5},
    {"insights.patterns", ins_run_patterns, .max_attempts = 3},
    {"insights.import", ins_run_import, .max_attempts = 5, .outside_txn = 1},
    {"insights.resegment", ins_run_resegment, .max_attempts = 5},
    {0},
};

static const cn_subscription_t subscriptions[] = {
    {"interaction.", on_event},
    {"sentiment.", on_event},
    {"patterns.", on_event},
    {"customer.", on_event},
    {0},
};

const cn_app_t insights_app = {
    .name = "insights",
    .description = "Customer insights: interactions, sentiment, behaviour patterns, reports",
    .migrations = migrations,
    .routes = routes,
    .permissions = permissions,
    .jobs = jobs,
    .channels = channels,
    .subscriptions = subscriptions,
    .settings = settings,
    .start = start,
    .stop = stop,
    .metrics = collect,
};
