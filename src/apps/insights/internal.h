/*
 * What the files of the insights app share. Not an interface for other modules: they
 * see only insights_app (insights.h) and the events it publishes.
 *
 *   insights.c  the module table, schema, settings, cache invalidation
 *   ingest.c    validation, enrichment, single and batch ingest, idempotency
 *   analysis.c  sentiment (API and the analysis job), behaviour patterns
 *   filter.c    query parameters -> one SQL statement for lists and exports
 *   queries.c   insights list, trends, metrics, search, customers
 *   transfer.c  CSV import (a resumable job) and streaming export
 */
#ifndef CAIRN_APPS_INSIGHTS_INTERNAL_H
#define CAIRN_APPS_INSIGHTS_INTERNAL_H

#include "core/cache.h"
#include "core/http.h"
#include "core/module.h"
#include "lib/tz.h"

/* the channel every insights event is published on, and the cache tag it invalidates */
#define INS_CHANNEL "insights"
#define INS_TAG "insights"

#define INS_BATCH_MAX 1000
#define INS_CHUNK 100 /* items committed together in a batch */
_Static_assert(INS_CHUNK <= CN_ROWS_MAX, "a chunk is inserted with one statement");
#define INS_CONTENT_MAX 10000      /* characters */
#define INS_METADATA_MAX 16384     /* bytes of serialised JSON */
#define INS_SKEW_MS (5 * 60000)    /* how far in the future a timestamp may be */
#define INS_ROLLUP_MS (15 * 60000) /* trend rollup granularity: every zone's offset fits */

/**
 * A customer id as stored: UUIDs compare case-insensitively, so "ABC…" and "abc…" are
 * one customer. Copies at most 36 characters of in, lowercased, into out.
 */
const char *ins_customer_key(const char *in, char out[CN_UUID_LEN + 1]);

/** Adds n to cairn_insights_interactions_rejected_total. */
void ins_count_rejected(uint64_t n);

extern const char *const ins_channels[]; /* web, mobile, email, chat, phone; NULL-ended */
/* Rollup rows exist per channel and, under INS_ALL_CHANNELS ("*"), for all channels
 * together: an unfiltered trend reads a fifth of the rows. */
#define INS_ALL 5
#define INS_ALL_CHANNELS "*"
const char *ins_rollup_channel(int channel);    /* a channel's name, or "*" for INS_ALL */
#define INS_SEGMENT_MAX 64                      /* characters of a customer's segment */
#define INS_SEGMENT_BYTES (4 * INS_SEGMENT_MAX) /* the same in UTF-8, at most */
/*
 * Rollup rows exist for all customers (segment "") and again per customer segment, so the
 * segment filters and the breakdown by segment read slots, not interactions. A customer's
 * interactions count under customers.rollup_segment: the segment they were counted under.
 * A segment change leaves it behind, and the insights.resegment job moves the customer's
 * counts to the new segment and then sets it (ins_run_resegment).
 */
/* What a chunk of rows adds to one rollup row (ingest counts interactions, the analysis
 * the rest), so each row is written once per chunk. */
typedef struct {
    int64_t bucket, interactions, processed, labels[3]; /* positive, neutral, negative */
    int channel;
    const char *segment; /* NULL: the row of all customers */
    double compound_sum;
} ins_rollup_t;
/* Entries a chunk of rows may need: each row's channel and INS_ALL, for all customers and
 * for the row's segment. */
#define INS_ROLLUP_ENTRIES (4 * INS_CHUNK)
/* The entry of (the slot of ts, channel, segment) in t[0..*n), added if new. */
ins_rollup_t *ins_rollup_entry(ins_rollup_t *t, size_t *n, int64_t ts, int channel,
                               const char *segment);
/* Copies a stored segment (v, len; NULL for none, copied as "") into out; one longer than
 * the API stores is CN_ERR, never counted short. */
int ins_segment_copy(const char *v, size_t len, char out[INS_SEGMENT_BYTES + 1], cn_err_t *err);
/* Adds the n entries to their rollup rows (created at 0 when missing); counts may be
 * negative (a segment's counts moving out). */
int ins_rollups_add(cn_store_t *s, const char *tenant, const ins_rollup_t *t, size_t n,
                    cn_err_t *err);
int ins_channel_index(const char *s, size_t len);

/* ---- ingest.c ---- */

/** A validated, enriched interaction ready to store. Strings borrow from the JSON. */
typedef struct {
    const char *customer_id; /* points to customer_buf: lower case */
    char customer_buf[CN_UUID_LEN + 1];
    int64_t ts;
    int channel;
    const char *event_type;
    size_t event_type_len;
    const char *content; /* NULL when absent */
    size_t content_len;
    char *metadata; /* owned JSON text, NULL when absent */
    char *search;   /* owned: the search text (preprocessed content) as a JSON string body */
    size_t search_len;
    const char *idem;
    size_t idem_len;
    char idem_buf[256]; /* derived key (header + index) when the item has none */
    char device[16], os[16], client[32], country[8], city[96];
} ins_item_t;

/**
 * Validates one interaction (spec 7.1) into it, enriching it (7.2). Errors are added to
 * errs with the field name prefixed by prefix ("" or "items[3]."). Returns 0 or
 * CN_EVALIDATION.
 */
int ins_validate(const json_t *v, int64_t now_ms, const char *prefix, ins_item_t *it,
                 cn_verrors_t *errs);
void ins_item_clear(ins_item_t *it);

extern const cn_schema_t ins_interaction_schema;
extern const cn_schema_t ins_batch_schema;
int ins_prepare_one(cn_req_t *r);
int ins_ingest_one(cn_req_t *r);
int ins_prepare_batch(cn_req_t *r);
int ins_ingest_batch(cn_req_t *r);

/**
 * Stores n validated items of a tenant in the caller's open unit of work: the rows, the
 * search index, the customers, the rollups, the analysis (jobs enqueued at commit) and one
 * interaction.created event. ids[i] receives each item's id; dup[i] is set when an idempotency key
 * showed it was stored before (nothing is written for it). Used by ingest and by the CSV import.
 */
int ins_store_items(cn_store_t *s, const char *tenant, ins_item_t *items, size_t n,
                    char (*ids)[CN_UUID_LEN + 1], unsigned char *dup, cn_err_t *err);

/* Per engine (ingest.c): the first seq of a chunk's block of INS_CHUNK numbers (one row,
 * one column); the lock taken before an idempotency key's check ($1 tenant, $2 key; none
 * on SQLite). */
extern const cn_sql_pair_t ins_sql_next_seq, ins_sql_idem_lock;

/** Rows to write: items[i] gets the id ids[i]; n <= INS_CHUNK. */
typedef struct {
    const ins_item_t *const *items;
    const char *const *ids;
    size_t n;
} ins_rows_t;
/**
 * Writes new rows of a tenant in the caller's transaction, with everything that follows
 * them (search entries and analysis staged for the commit, customers, rollups, one
 * interaction.created event). The idempotency check is the caller's.
 */
int ins_write_rows(cn_store_t *s, const char *tenant, const ins_rows_t *rows, cn_err_t *err);

/**
 * Stages the row of a single interaction, under its new id, in the caller's unit of work:
 * the precommit hook writes the staged rows of a transaction with ins_write_rows, in
 * chunks per tenant. The item is copied.
 */
void ins_row_stage(const char *tenant, const ins_item_t *it, const char *id);
/** The id of a row staged in this transaction under (tenant, idempotency key), or NULL. */
const char *ins_row_staged_id(const char *tenant, const char *key, size_t len);

/**
 * Stages a search-index entry for the row seq of a tenant (a UUID) in the caller's
 * transaction (json_text: the search text, already escaped as the inside of a JSON string);
 * the entries of a transaction are written by one statement just before it commits, or
 * dropped with a unit of work that rolls back.
 */
void ins_search_stage(const char *tenant, int64_t seq, const char *json_text, size_t len);
/* The search index's statements, per engine (staging.c): the entries of a transaction,
 * and FTS5's merge step (none on PostgreSQL). */
extern const cn_sql_pair_t ins_sql_search_insert, ins_sql_search_merge;
/** Stages the analysis of rows first..last of a tenant (jobs are enqueued at precommit). */
void ins_analysis_stage(const char *tenant, int64_t first, int64_t last);
/** The store hook that writes what was staged (staging.c), installed at start. */
extern const cn_store_hook_t ins_stage_hook;

/** Loads the GeoIP database named by insights.geoip_db (empty: none). */
int ins_geoip_start(const char *path, cn_err_t *err);
void ins_geoip_stop(void);

/* ---- analysis.c ---- */

extern const cn_schema_t ins_sentiment_schema, ins_sentiment_batch_schema;
int ins_sentiment_one(cn_req_t *r);
int ins_sentiment_batch(cn_req_t *r);
int ins_get_patterns(cn_req_t *r);
int ins_run_analysis(cn_job_t *job, cn_err_t *err);
int ins_run_patterns(cn_job_t *job, cn_err_t *err);
/** Enqueues the analysis of interactions seq first..last (one chunk). */
int ins_enqueue_analysis(cn_store_t *s, const char *tenant, int64_t first, int64_t last,
                         cn_err_t *err);
void ins_set_pattern_delay(int64_t ms);

/* ---- queries.c / filter.c ---- */

#define INS_LIST_MAX 10 /* values in a channels= or segments= list */

/** The filters of /insights, /insights/metrics and the export, parsed from the query. */
typedef struct {
    int64_t from, to; /* [from, to) in UTC ms; INT64_MIN / INT64_MAX when open */
    const char *channels[5];
    size_t n_channels;
    char segments_buf[INS_LIST_MAX * (INS_SEGMENT_BYTES + 1)];
    const char *segments[INS_LIST_MAX];
    size_t n_segments;
    int has_smin, has_smax;
    double smin, smax;
    const char *customer_id; /* points to customer_buf */
    char customer_buf[CN_UUID_LEN + 1];
    int by_sentiment; /* sort by compound instead of timestamp */
    int ascending;
    int has_cursor;
    int64_t cursor_ts;      /* the last row's ts (sorting by time) */
    double cursor_compound; /* the last row's compound (sorting by sentiment) */
    int64_t cursor_seq;     /* the last row's seq: the tie-break */
    int64_t limit;
    int include_total;
} ins_filter_t;

/**
 * Reads the filters from a validated query object. Errors name the parameter and go to
 * errs. Returns 0 or CN_EVALIDATION.
 */
int ins_filter_parse(const json_t *query, ins_filter_t *f, cn_verrors_t *errs);
/** Adds the channels of a comma-separated list (NULL: none) to f; errors as above. */
int ins_filter_channels(const char *list, ins_filter_t *f, cn_verrors_t *errs);

#define INS_SQL_MAX 2048
#define INS_ARGS_MAX 32
/**
 * Builds select (up to "FROM interactions") + the filters' WHERE, and with page the
 * cursor, ORDER BY and LIMIT limit + 1 of one page. sql must hold INS_SQL_MAX bytes; args
 * INS_ARGS_MAX values, borrowing from f. Returns the number of arguments.
 */
#define INS_SELECT_ROWS "SELECT " INS_COLUMNS " FROM interactions"
size_t ins_filter_sql(const ins_filter_t *f, const char *tenant, const char *select, int page,
                      char *sql, cn_val_t *args);
/**
 * The metrics' statements, over the rollups of f's range (widened to whole slots), with
 * the same sql and args contract. ins_counts_sql: per channel, of all customers or of f's
 * segments. ins_segments_sql: per segment, all channels together; without a segment
 * filter the tenant's segments are found by skipping from one to the next in the rollups'
 * key, one seek each, whatever the number of customers or slots.
 */
size_t ins_counts_sql(const ins_filter_t *f, const char *tenant, char *sql, cn_val_t *args);
size_t ins_segments_sql(const ins_filter_t *f, const char *tenant, char *sql, cn_val_t *args);
/** Encodes the keyset cursor of the row last shown (ts or compound, by f's sort). */
void ins_cursor_encode(const ins_filter_t *f, int64_t ts, double compound, int64_t seq, char *out,
                       size_t cap);

/*
 * Search (queries.c). ins_search_text writes the query text of q for the engine
 * (postgres: a tsquery for to_tsquery, else FTS5's syntax) into out, NUL-terminated, and
 * returns the number of words (0: nothing to search for). ins_sql_search ranks a page of
 * matches, ins_sql_search_hit reads one hit and its snippet (see their definitions).
 * ins_headline_cuts writes PostgreSQL's headline (match marks \x02 / \x03) into out with
 * an ellipsis where it does not reach the start or the end of body, as FTS5's snippet has.
 */
int ins_search_text(const char *q, int postgres, cn_buf_t *out);
extern const cn_sql_pair_t ins_sql_search, ins_sql_search_hit;
void ins_headline_cuts(const char *headline, size_t len, const char *body, size_t body_len,
                       cn_buf_t *out);

extern const cn_schema_t ins_list_query, ins_trends_query, ins_metrics_query, ins_search_query,
    ins_customers_query, ins_export_query;
int ins_list(cn_req_t *r);
int ins_trends(cn_req_t *r);
int ins_metrics(cn_req_t *r);
int ins_search(cn_req_t *r);
int ins_list_customers(cn_req_t *r);
int ins_get_customer(cn_req_t *r);
int ins_put_customer(cn_req_t *r);
extern const cn_schema_t ins_customer_schema, ins_customer_param;
/** insights.resegment {customer_id}: moves the customer's rollup counts to its segment. */
int ins_run_resegment(cn_job_t *job, cn_err_t *err);

/** Writes the interaction in the current row (INS_COLUMNS) of st as a JSON object. */
#define INS_COLUMNS                                                                                \
    "id, customer_id, ts, channel, event_type, content, metadata, device, os, client, country,"    \
    " city, sentiment, s_pos, s_neu, s_neg, s_compound, s_confidence, processed_at, created_at,"   \
    " seq"
#define INS_COL_SEQ 20
void ins_write_row(cn_jw_t *w, cn_stmt_t *st);
/** A text column as a JSON string, or null. */
void ins_jw_text_col(cn_jw_t *w, cn_stmt_t *st, int col);
/** A Unix-milliseconds column as a JSON integer (the rule of every answer), or null. */
void ins_jw_time_col(cn_jw_t *w, cn_stmt_t *st, int col);

/* cn_cache_request with the module's tag: every committed change of a tenant's insights
 * data drops its cached answers */
int ins_cache_lookup(cn_req_t *r, cn_cached_req_t *c);
/* How long answers stay cached at most (ms), per the spec: lists and search 5 minutes,
 * trends 15, customer profiles and patterns 10. */
#define INS_TTL_INSIGHTS 300000
#define INS_TTL_TRENDS 900000
#define INS_TTL_PROFILE 600000

/**
 * An event of this module: {"count": n, "items": [...]}. open starts it in b (the caller
 * then writes n item objects), publish closes it, publishes it on the tenant's insights
 * channel in the open transaction and frees b.
 */
void ins_items_open(cn_jw_t *w, cn_buf_t *b, size_t n);
int ins_items_publish(cn_store_t *s, const char *tenant, const char *type, cn_jw_t *w,
                      cn_err_t *err);

/** The tenant's time zone (insight_settings), or "UTC". */
int ins_tenant_tz(cn_store_t *s, const char *tenant, char name[CN_TZ_NAME_MAX], cn_err_t *err);
int ins_get_settings(cn_req_t *r);
int ins_put_settings(cn_req_t *r);
extern const cn_schema_t ins_settings_schema;

/* ---- transfer.c ---- */

extern const cn_schema_t ins_import_param;
int ins_import(cn_req_t *r);
int ins_get_import(cn_req_t *r);
int ins_import_errors(cn_req_t *r);
int ins_export(cn_req_t *r);
int ins_run_import(cn_job_t *job, cn_err_t *err);

#endif
