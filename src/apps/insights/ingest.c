/*
 * Ingest: validation (spec 7.1), enrichment (7.2) and storage of interactions. One
 * function writes rows for every entry point (single, batch, CSV import), so they cannot
 * drift: the rows, their search index entries, the customers' counters, the trend
 * rollups, the analysis jobs and one interaction.created event all go into the caller's
 * transaction, and commit or vanish together. A batch chunk is written in its own unit of
 * work; a single interaction is staged and written with the other single ingests of its
 * transaction just before the commit (staging.c), as are search entries and jobs.
 */
#include "apps/insights/internal.h"
#include "core/events.h"
#include "lib/geoip.h"
#include "lib/textprep.h"
#include "lib/useragent.h"

#include <string.h>

/* ---- validation and enrichment ---- */

static const cn_field_t interaction_fields[] = {
    {"customer_id", CN_T_STRING, .required = 1, .format = CN_FMT_UUID,
     .description = "The tenant's own id of the customer (a UUID)"},
    {"timestamp", CN_T_TIME, .required = 1,
     .description = "When it happened: Unix ms or RFC 3339; at most 5 minutes in the future"},
    {"channel", CN_T_STRING, .required = 1, .enum_values = ins_channels},
    {"event_type", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 100, .single_line = 1,
     .description = "What happened (\"support_ticket\", \"page_view\")"},
    {"content", CN_T_STRING, .nullable = 1, .max_len = INS_CONTENT_MAX,
     .description = "The text (required for email and chat)"},
    {"metadata", CN_T_OBJECT, .nullable = 1,
     .description = "Free JSON (at most 16 KiB); user_agent and ip are used for enrichment"},
    {"idempotency_key", CN_T_STRING, .min_len = 1, .max_len = 200,
     .description = "A retry with the same key creates nothing new"},
    {0},
};
const cn_schema_t ins_interaction_schema = {"InteractionCreate", interaction_fields};

/* items are not typed here: each is validated on its own, so one bad item (even one that
 * is not an object) fails alone instead of failing the batch */
static const cn_field_t batch_fields[] = {
    {"items", CN_T_ARRAY, .required = 1, .min_len = 1, .max_len = INS_BATCH_MAX,
     .description = "Interactions (each validated on its own; results per index)"},
    {0},
};
const cn_schema_t ins_batch_schema = {"InteractionBatch", batch_fields};

static cn_geoip_t *geoip; /* read-only after start: lookups from every thread */

int ins_geoip_start(const char *path, cn_err_t *err)
{
    if (path == NULL || path[0] == '\0')
        return 0;
    char msg[256];
    if (cn_geoip_open(path, &geoip, msg, sizeof(msg)) != 0)
        return cn_err_set(err, CN_EINVAL, "insights.geoip_db: %s", msg);
    return 0;
}

void ins_geoip_stop(void)
{
    cn_geoip_close(geoip);
    geoip = NULL;
}

void ins_item_clear(ins_item_t *it)
{
    free(it->metadata);
    free(it->search);
    it->metadata = it->search = NULL;
}

/* The search text, prepared with validation (outside the write lock): the spec's
 * preprocessing of the content, escaped for the JSON the search index is written from. */
static void prepare_search(ins_item_t *it)
{
    size_t cap = cn_text_preprocess_bound(it->content_len);
    char *text = cn_malloc(cap);
    size_t len = cn_text_preprocess(it->content ? it->content : "", it->content_len, text, cap);
    cn_buf_t b = {0};
    cn_buf_append_json_str(&b, text, len);
    free(text);
    cn_buf_append(&b, "", 1);
    it->search = b.data;
    it->search_len = b.len - 1;
}

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && (s[i] < '\t' || s[i] > '\r'))
            return 0;
    return 1;
}

/* C0 controls other than tab and line breaks are refused: search snippets use two of
 * them as match markers, and nothing legitimate needs them */
static int has_controls(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
            return 1;
    }
    return 0;
}

static void add_error(cn_verrors_t *errs, const char *prefix, const char *field, const char *msg)
{
    char name[sizeof(errs->items[0].field)];
    int n = snprintf(name, sizeof(name), "%s%s", prefix, field);
    if (field[0] == '\0' && n > 0 && (size_t)n < sizeof(name) && name[n - 1] == '.')
        name[n - 1] = '\0'; /* the item itself: "items[3]", not "items[3]." */
    cn_verrors_add(errs, name, "%s", msg);
}

static void enrich(const json_t *metadata, ins_item_t *it)
{
    json_t *ua = json_object_get(metadata, "user_agent");
    if (json_is_string(ua)) {
        cn_ua_t u;
        cn_ua_parse(json_string_value(ua), json_string_length(ua), &u);
        snprintf(it->device, sizeof(it->device), "%s", u.device);
        snprintf(it->os, sizeof(it->os), "%s", u.os);
        snprintf(it->client, sizeof(it->client), "%s", u.client);
    }
    json_t *ip = json_object_get(metadata, "ip");
    cn_geo_t g;
    if (geoip != NULL && json_is_string(ip) &&
        cn_geoip_lookup(geoip, json_string_value(ip), &g) == CN_GEO_FOUND) {
        snprintf(it->country, sizeof(it->country), "%s", g.country_code);
        snprintf(it->city, sizeof(it->city), "%s", g.city);
    }
}

/* the checks a schema cannot express: time window, required content, sizes */
static void check_semantics(const json_t *v, int64_t now_ms, const char *prefix, ins_item_t *it,
                            cn_verrors_t *errs)
{
    json_t *ts = json_object_get(v, "timestamp"), *ch = json_object_get(v, "channel");
    json_t *et = json_object_get(v, "event_type"), *content = json_object_get(v, "content");
    json_t *md = json_object_get(v, "metadata"), *key = json_object_get(v, "idempotency_key");
    cn_schema_time(ts, &it->ts); /* validated by the schema */
    if (it->ts > now_ms + INS_SKEW_MS)
        add_error(errs, prefix, "timestamp", "is in the future (more than 5 minutes ahead)");
    if (it->ts < 0)
        add_error(errs, prefix, "timestamp", "is before 1970");
    it->customer_id =
        ins_customer_key(json_string_value(json_object_get(v, "customer_id")), it->customer_buf);
    it->channel = ins_channel_index(json_string_value(ch), json_string_length(ch));
    it->event_type = json_string_value(et);
    it->event_type_len = json_string_length(et);
    if (blank(it->event_type, it->event_type_len))
        add_error(errs, prefix, "event_type", "must not be blank");
    if (json_is_string(content)) {
        it->content = json_string_value(content);
        it->content_len = json_string_length(content);
        if (has_controls(it->content, it->content_len))
            add_error(errs, prefix, "content", "must not contain control characters");
    }
    int text_channel = strcmp(ins_channels[it->channel], "email") == 0 ||
                       strcmp(ins_channels[it->channel], "chat") == 0;
    if (text_channel && (it->content == NULL || blank(it->content, it->content_len)))
        add_error(errs, prefix, "content", "is required for the email and chat channels");
    if (json_is_object(md)) {
        it->metadata = json_dumps(md, JSON_COMPACT);
        if (it->metadata == NULL || strlen(it->metadata) > INS_METADATA_MAX)
            add_error(errs, prefix, "metadata", "must serialise to at most 16384 bytes");
        else
            enrich(md, it);
    }
    if (key != NULL) {
        it->idem = json_string_value(key);
        it->idem_len = json_string_length(key);
    }
}

int ins_validate(const json_t *v, int64_t now_ms, const char *prefix, ins_item_t *it,
                 cn_verrors_t *errs)
{
    memset(it, 0, sizeof(*it));
    if (!json_is_object(v)) {
        add_error(errs, prefix, "", "must be an object");
        ins_count_rejected(1);
        return CN_EVALIDATION;
    }
    cn_verrors_t own = {0};
    if (cn_schema_validate(&ins_interaction_schema, v, &own) != 0) {
        for (size_t i = 0; i < own.count; i++)
            add_error(errs, prefix, own.items[i].field, own.items[i].message);
        ins_count_rejected(1);
        return CN_EVALIDATION;
    }
    size_t before = errs->count;
    check_semantics(v, now_ms, prefix, it, errs);
    if (errs->count == before) {
        prepare_search(it);
        return 0;
    }
    ins_item_clear(it);
    ins_count_rejected(1);
    return CN_EVALIDATION;
}

/* ---- storage ---- */

/*
 * Before the check of an idempotency key, PostgreSQL takes a lock on (tenant, key) until
 * the transaction ends: the row is inserted only at commit (staging.c), so a concurrent
 * request with the same key on another node waits, then sees the row and answers with it.
 * Without the lock both would insert, and the unique index would fail the second one's
 * whole transaction. SQLite's single writer already orders them.
 */
const cn_sql_pair_t ins_sql_idem_lock = {
    NULL, "SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(10) || $2, 0))"};

/* Marks items already stored under their idempotency key (before, or earlier in this
 * call) as duplicates, with the id they were stored under. */
static int find_duplicates(cn_store_t *s, const char *tenant, ins_item_t *items, size_t n,
                           char (*ids)[CN_UUID_LEN + 1], unsigned char *dup, cn_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        dup[i] = 0;
        if (items[i].idem == NULL)
            continue;
        for (size_t j = 0; j < i && !dup[i]; j++)
            if (items[j].idem != NULL && items[j].idem_len == items[i].idem_len &&
                memcmp(items[j].idem, items[i].idem, items[i].idem_len) == 0) {
                memcpy(ids[i], ids[j], sizeof(ids[i]));
                dup[i] = 1;
            }
        if (dup[i])
            continue;
        cn_val_t a[] = {CN_VTEXT(tenant), CN_VTEXTN(items[i].idem, items[i].idem_len)};
        const char *lock = cn_store_sql(s, &ins_sql_idem_lock);
        int rc = lock ? cn_store_exec(s, lock, a, 2, NULL, err) : 0;
        if (rc == 0)
            rc = cn_store_one_text(s,
                                   "SELECT id FROM interactions WHERE tenant_id = $1"
                                   " AND idempotency_key = $2",
                                   a, 2, ids[i], sizeof(ids[i]), err);
        if (rc != 0 && rc != CN_ENOTFOUND)
            return rc;
        dup[i] = rc == 0;
    }
    return 0;
}

/*
 * The first seq of a chunk's block of INS_CHUNK numbers. SQLite: after the largest, under
 * its single writer. PostgreSQL: interactions_seq steps by INS_CHUNK, so each call owns a
 * block of its own whichever node makes it (gaps are harmless: seq orders rows and names
 * analysis ranges, which skip missing numbers).
 */
const cn_sql_pair_t ins_sql_next_seq = {"SELECT COALESCE(MAX(seq), 0) + 1 FROM interactions",
                                        "SELECT nextval('interactions_seq')"};

static int64_t next_seq(cn_store_t *s, cn_err_t *err)
{
    int64_t first = 0; /* an aggregate or nextval: always one row */
    int rc = cn_store_one_int(s, cn_store_sql(s, &ins_sql_next_seq), NULL, 0, &first, err);
    return rc != 0 ? rc : first;
}

#define ROW_COLS 16
static cn_rows_sql_t insert_rows = {
    "INSERT INTO interactions (seq, tenant_id, id, customer_id, ts, channel, event_type, content,"
    " metadata, device, os, client, country, city, idempotency_key, created_at)",
    ROW_COLS};

static cn_val_t opt_text(const char *s)
{
    return s[0] ? CN_VTEXT(s) : CN_VNULL;
}

static void row_args(cn_val_t *a, const ins_item_t *it, int64_t seq, const char *tenant,
                     const char *id, int64_t now)
{
    a[0] = CN_VINT(seq);
    a[1] = CN_VTEXT(tenant);
    a[2] = CN_VTEXTN(id, CN_UUID_LEN);
    a[3] = CN_VTEXT(it->customer_id);
    a[4] = CN_VINT(it->ts);
    a[5] = CN_VTEXT(ins_channels[it->channel]);
    a[6] = CN_VTEXTN(it->event_type, it->event_type_len);
    a[7] = it->content ? CN_VTEXTN(it->content, it->content_len) : CN_VNULL;
    a[8] = it->metadata ? CN_VTEXT(it->metadata) : CN_VNULL;
    a[9] = opt_text(it->device);
    a[10] = opt_text(it->os);
    a[11] = opt_text(it->client);
    a[12] = opt_text(it->country);
    a[13] = opt_text(it->city);
    a[14] = it->idem ? CN_VTEXTN(it->idem, it->idem_len) : CN_VNULL;
    a[15] = CN_VINT(now);
}

/* Inserts the rows (n <= CN_ROWS_MAX: one statement) and stages their search entries. */
static int insert_items(cn_store_t *s, const char *tenant, const ins_rows_t *rows,
                        int64_t first_seq, cn_err_t *err)
{
    cn_val_t *a = cn_malloc(rows->n * ROW_COLS * sizeof(cn_val_t));
    int64_t now = cn_now_ms();
    for (size_t i = 0; i < rows->n; i++)
        row_args(a + i * ROW_COLS, rows->items[i], first_seq + (int64_t)i, tenant, rows->ids[i],
                 now);
    int rc = cn_store_exec(s, cn_rows_sql(&insert_rows, rows->n), a, rows->n * ROW_COLS, NULL, err);
    free(a);
    for (size_t i = 0; rc == 0 && i < rows->n; i++)
        ins_search_stage(tenant, first_seq + (int64_t)i, rows->items[i]->search,
                         rows->items[i]->search_len);
    return rc;
}

/* per-customer counters of a chunk, so each customer row is written once, and the
 * segment the customer's interactions count under (its rollup_segment) */
typedef struct {
    const char *id;
    int64_t count, first, last;
    const char *segment; /* NULL or points to segment_buf */
    char segment_buf[INS_SEGMENT_BYTES + 1];
} tally_t;

typedef struct {
    tally_t t[INS_CHUNK];
    size_t n;
    unsigned char of_row[INS_CHUNK]; /* rows->items[i] belongs to t[of_row[i]] */
} tallies_t;

static void tally_rows(const ins_rows_t *rows, tallies_t *c)
{
    c->n = 0;
    for (size_t i = 0; i < rows->n; i++) {
        const ins_item_t *it = rows->items[i];
        size_t j = 0;
        while (j < c->n && strcmp(c->t[j].id, it->customer_id) != 0)
            j++;
        if (j == c->n)
            c->t[c->n++] = (tally_t){.id = it->customer_id, .first = it->ts, .last = it->ts};
        tally_t *t = &c->t[j];
        t->count++;
        t->first = it->ts < t->first ? it->ts : t->first;
        t->last = it->ts > t->last ? it->ts : t->last;
        c->of_row[i] = (unsigned char)j;
    }
}
_Static_assert(INS_CHUNK <= 256, "of_row holds a customer's index in a byte");

static cn_rows_sql_t upsert_customers = {
    "INSERT INTO customers (tenant_id, external_id, first_seen, last_seen, interaction_count,"
    " created_at, updated_at)",
    7,
    "ON CONFLICT (tenant_id, external_id) DO UPDATE SET"
    " first_seen = CASE WHEN customers.first_seen IS NULL"
    " OR excluded.first_seen < customers.first_seen THEN excluded.first_seen"
    " ELSE customers.first_seen END,"
    " last_seen = CASE WHEN customers.last_seen IS NULL"
    " OR excluded.last_seen > customers.last_seen THEN excluded.last_seen"
    " ELSE customers.last_seen END,"
    " interaction_count = customers.interaction_count + excluded.interaction_count,"
    " updated_at = excluded.updated_at"
    " RETURNING external_id, rollup_segment"};

/* the segment a returned customer row counts under, into its tally */
static int tally_segment(tallies_t *c, cn_stmt_t *st, cn_err_t *err)
{
    if (cn_stmt_is_null(st, 1))
        return 0;
    const char *id = cn_stmt_text(st, 0, NULL);
    size_t len;
    const char *segment = cn_stmt_text(st, 1, &len);
    for (size_t j = 0; id && j < c->n; j++)
        if (strcmp(c->t[j].id, id) == 0) {
            c->t[j].segment = c->t[j].segment_buf;
            return ins_segment_copy(segment, len, c->t[j].segment_buf, err);
        }
    return 0;
}

static int by_customer(const void *a, const void *b)
{
    return strcmp((*(const tally_t *const *)a)->id, (*(const tally_t *const *)b)->id);
}

/* One upsert of the chunk's customers, in key order: concurrent transactions (other
 * nodes on PostgreSQL) then lock shared rows in one order and cannot deadlock. */
static int update_customers(cn_store_t *s, const char *tenant, tallies_t *c, cn_err_t *err)
{
    int64_t now = cn_now_ms();
    cn_val_t a[INS_CHUNK * 7];
    const tally_t *order[INS_CHUNK] = {0};
    for (size_t i = 0; i < c->n; i++)
        order[i] = &c->t[i];
    qsort(order, c->n, sizeof(tally_t *), by_customer);
    for (size_t i = 0; i < c->n; i++) {
        const tally_t *t = order[i];
        cn_val_t *v = a + i * 7;
        v[0] = CN_VTEXT(tenant);
        v[1] = CN_VTEXT(t->id);
        v[2] = CN_VINT(t->first);
        v[3] = CN_VINT(t->last);
        v[4] = CN_VINT(t->count);
        v[5] = CN_VINT(now);
        v[6] = CN_VINT(now);
    }
    cn_stmt_t *st;
    int rc = cn_store_query(s, cn_rows_sql(&upsert_customers, c->n), a, c->n * 7, &st, err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW)
        if ((rc = tally_segment(c, st, err)) != 0)
            break;
    cn_stmt_finish(st);
    return rc < 0 ? rc : 0;
}

/* counts per (bucket, channel) of a chunk, the all-channels row included, for all customers
 * and for the segment of each row's customer */
static int update_rollups(cn_store_t *s, const char *tenant, const ins_rows_t *rows,
                          const tallies_t *c, cn_err_t *err)
{
    ins_rollup_t t[INS_ROLLUP_ENTRIES];
    size_t nt = 0;
    for (size_t i = 0; i < rows->n; i++) {
        const ins_item_t *it = rows->items[i];
        const char *segment = c->t[c->of_row[i]].segment;
        ins_rollup_entry(t, &nt, it->ts, it->channel, NULL)->interactions++;
        ins_rollup_entry(t, &nt, it->ts, INS_ALL, NULL)->interactions++;
        if (segment) {
            ins_rollup_entry(t, &nt, it->ts, it->channel, segment)->interactions++;
            ins_rollup_entry(t, &nt, it->ts, INS_ALL, segment)->interactions++;
        }
    }
    return ins_rollups_add(s, tenant, t, nt, err);
}

/* interaction.created: items {id, customer_id, timestamp, channel, event_type} */
static int publish_created(cn_store_t *s, const char *tenant, const ins_rows_t *rows, cn_err_t *err)
{
    cn_buf_t b = {0};
    cn_jw_t w;
    ins_items_open(&w, &b, rows->n);
    for (size_t i = 0; i < rows->n; i++) {
        const ins_item_t *it = rows->items[i];
        cn_jw_object(&w);
        cn_jw_key(&w, "id");
        cn_jw_str(&w, rows->ids[i], CN_UUID_LEN);
        cn_jw_key(&w, "customer_id");
        cn_jw_str(&w, it->customer_id, strlen(it->customer_id));
        cn_jw_key(&w, "timestamp");
        cn_jw_int(&w, it->ts);
        cn_jw_key(&w, "channel");
        cn_jw_str(&w, ins_channels[it->channel], strlen(ins_channels[it->channel]));
        cn_jw_key(&w, "event_type");
        cn_jw_str(&w, it->event_type, it->event_type_len);
        cn_jw_end(&w);
    }
    return ins_items_publish(s, tenant, "interaction.created", &w, err);
}

int ins_write_rows(cn_store_t *s, const char *tenant, const ins_rows_t *rows, cn_err_t *err)
{
    if (rows->n == 0)
        return 0;
    if (rows->n > INS_CHUNK)
        return cn_err_set(err, CN_ERR, "ins_write_rows: more than %d rows", INS_CHUNK);
    int64_t first = next_seq(s, err);
    if (first < 0)
        return (int)first;
    tallies_t c;
    tally_rows(rows, &c);
    int rc;
    if ((rc = insert_items(s, tenant, rows, first, err)) != 0 ||
        (rc = update_customers(s, tenant, &c, err)) != 0 ||
        (rc = update_rollups(s, tenant, rows, &c, err)) != 0)
        return rc;
    ins_analysis_stage(tenant, first, first + (int64_t)rows->n - 1);
    return publish_created(s, tenant, rows, err);
}

int ins_store_items(cn_store_t *s, const char *tenant, ins_item_t *items, size_t n,
                    char (*ids)[CN_UUID_LEN + 1], unsigned char *dup, cn_err_t *err)
{
    if (n > INS_CHUNK)
        return cn_err_set(err, CN_ERR, "ins_store_items: more than %d items", INS_CHUNK);
    for (size_t i = 0; i < n; i++)
        cn_uuid7(ids[i]);
    int rc = find_duplicates(s, tenant, items, n, ids, dup, err);
    if (rc != 0)
        return rc;
    const ins_item_t *pick[INS_CHUNK];
    const char *pick_ids[INS_CHUNK];
    ins_rows_t rows = {pick, pick_ids, 0};
    for (size_t i = 0; i < n; i++)
        if (!dup[i]) {
            pick[rows.n] = &items[i];
            pick_ids[rows.n++] = ids[i];
        }
    return ins_write_rows(s, tenant, &rows, err);
}

/* A single interaction: its row waits in staging.c for the end of the transaction, where
 * the rows of every single ingest of a loop turn are written together like a batch's
 * chunk (one statement for the rows, one upsert per customer, one event). Only the
 * idempotency check runs here, against the stored rows and those still staged. */
static int defer_item(cn_store_t *s, const char *tenant, ins_item_t *it, char id[CN_UUID_LEN + 1],
                      int *dup, cn_err_t *err)
{
    *dup = 0;
    const char *staged = it->idem ? ins_row_staged_id(tenant, it->idem, it->idem_len) : NULL;
    if (staged != NULL) {
        memcpy(id, staged, CN_UUID_LEN + 1);
        *dup = 1;
        return 0;
    }
    cn_uuid7(id);
    unsigned char d;
    int rc = find_duplicates(s, tenant, it, 1, (char(*)[CN_UUID_LEN + 1]) id, &d, err);
    if (rc != 0)
        return rc;
    *dup = d;
    if (!d)
        ins_row_stage(tenant, it, id);
    return 0;
}

/* ---- routes ---- */

static void write_created(cn_jw_t *w, const ins_item_t *it, const char *id, int duplicate)
{
    cn_jw_object(w);
    cn_jw_key(w, "id");
    cn_jw_str(w, id, CN_UUID_LEN);
    cn_jw_key(w, "customer_id");
    cn_jw_str(w, it->customer_id, strlen(it->customer_id));
    cn_jw_key(w, "timestamp");
    cn_jw_int(w, it->ts);
    cn_jw_key(w, "channel");
    cn_jw_str(w, ins_channels[it->channel], strlen(ins_channels[it->channel]));
    cn_jw_key(w, "duplicate");
    cn_jw_bool(w, duplicate);
    cn_jw_end(w);
}

/* the Idempotency-Key header: 1..200 printable characters, else a 422 naming it */
static int header_key(cn_req_t *r, h2o_iovec_t *key)
{
    *key = cn_req_header(r, "idempotency-key");
    if (key->len == 0)
        return 0;
    if (key->len > 200 || has_controls(key->base, key->len))
        return cn_fail_field(r, "Idempotency-Key", "must be 1-200 printable characters");
    return 0;
}

/* One unit of work around ins_store_items: the chunk commits or leaves no trace. */
static int store_chunk(cn_req_t *r, ins_item_t *items, size_t n, char (*ids)[CN_UUID_LEN + 1],
                       unsigned char *dup)
{
    int rc = cn_store_begin(r->store, &r->err);
    if (rc != 0)
        return rc;
    return cn_store_end(r->store,
                        ins_store_items(r->store, cn_req_tenant(r), items, n, ids, dup, &r->err),
                        &r->err);
}

static void item_dispose(void *p)
{
    ins_item_clear(p);
}

/* Validation and enrichment, before the request waits for the write transaction. */
int ins_prepare_one(cn_req_t *r)
{
    h2o_iovec_t key;
    int rc = header_key(r, &key);
    if (rc != 0)
        return rc;
    ins_item_t *it = h2o_mem_alloc_shared(&r->h->pool, sizeof(*it), item_dispose);
    if (ins_validate(r->body, cn_now_ms(), "", it, &r->verrors) != 0)
        return cn_fail(r, CN_EVALIDATION, "the interaction has invalid fields");
    if (it->idem == NULL && key.len) {
        it->idem = key.base;
        it->idem_len = key.len;
    }
    r->prepared = it;
    return 0;
}

int ins_ingest_one(cn_req_t *r)
{
    ins_item_t *it = r->prepared;
    char id[CN_UUID_LEN + 1];
    int dup;
    int rc = cn_store_begin(r->store, &r->err);
    if (rc == 0) /* the unit scopes the staged row: a rollback elsewhere cannot drop it */
        rc = cn_store_end(r->store, defer_item(r->store, cn_req_tenant(r), it, id, &dup, &r->err),
                          &r->err);
    if (rc != 0)
        return rc;
    cn_jw_t w;
    cn_jw_init(&w, cn_reply_buffer(r));
    write_created(&w, it, id, dup);
    if (!dup) {
        char location[80];
        snprintf(location, sizeof(location), "/api/v1/insights?customer_id=%s", it->customer_id);
        cn_reply_header(r, "location", location, strlen(location));
    }
    return cn_reply_json_buf(r, dup ? 200 : 201);
}

/* the batch's answer, built as the chunks are stored */
typedef struct {
    cn_jw_t w;
    int64_t created, duplicates, failed;
} batch_out_t;

/* one chunk's items, and the errors of the invalid ones as JSON arrays in errs */
typedef struct {
    ins_item_t items[INS_CHUNK];
    int valid[INS_CHUNK];
    size_t err_off[INS_CHUNK], err_len[INS_CHUNK];
    cn_buf_t errs;
} chunk_t;

static void serialise_errors(cn_buf_t *b, const cn_verrors_t *e)
{
    cn_jw_t w;
    cn_jw_init(&w, b);
    cn_jw_array(&w);
    for (size_t i = 0; i < e->count; i++) {
        cn_jw_object(&w);
        cn_jw_key(&w, "field");
        cn_jw_str(&w, e->items[i].field, strlen(e->items[i].field));
        cn_jw_key(&w, "message");
        cn_jw_str(&w, e->items[i].message, strlen(e->items[i].message));
        cn_jw_end(&w);
    }
    cn_jw_end(&w);
}

static void write_failed(batch_out_t *o, size_t index, const char *errors, size_t len)
{
    cn_jw_object(&o->w);
    cn_jw_key(&o->w, "index");
    cn_jw_int(&o->w, (int64_t)index);
    cn_jw_key(&o->w, "errors");
    cn_jw_raw(&o->w, errors, len);
    cn_jw_end(&o->w);
    o->failed++;
}

static void write_stored(batch_out_t *o, size_t index, const char *id, int duplicate)
{
    cn_jw_object(&o->w);
    cn_jw_key(&o->w, "index");
    cn_jw_int(&o->w, (int64_t)index);
    cn_jw_key(&o->w, "id");
    cn_jw_str(&o->w, id, CN_UUID_LEN);
    cn_jw_key(&o->w, "duplicate");
    cn_jw_bool(&o->w, duplicate);
    cn_jw_end(&o->w);
    o->created += !duplicate;
    o->duplicates += duplicate;
}

static void validate_chunk(chunk_t *c, json_t *arr, size_t base, size_t n, h2o_iovec_t key,
                           int64_t now)
{
    c->errs.len = 0;
    for (size_t i = 0; i < n; i++) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "items[%zu].", base + i);
        cn_verrors_t e = {0};
        ins_item_t *it = &c->items[i];
        c->valid[i] = ins_validate(json_array_get(arr, base + i), now, prefix, it, &e) == 0;
        if (!c->valid[i]) {
            c->err_off[i] = c->errs.len;
            serialise_errors(&c->errs, &e);
            c->err_len[i] = c->errs.len - c->err_off[i];
        } else if (it->idem == NULL && key.len) { /* the header's key, made per item */
            snprintf(it->idem_buf, sizeof(it->idem_buf), "%.*s:%zu", (int)key.len, key.base,
                     base + i);
            it->idem = it->idem_buf;
            it->idem_len = strlen(it->idem_buf);
        }
    }
}

/* Stores the valid items of one chunk and writes every item's result in index order. */
static int flush_chunk(cn_req_t *r, batch_out_t *o, chunk_t *c, size_t base, size_t n)
{
    ins_item_t keep[INS_CHUNK];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (c->valid[i])
            keep[k++] = c->items[i];
    char ids[INS_CHUNK][CN_UUID_LEN + 1];
    unsigned char dup[INS_CHUNK] = {0};
    int rc = k ? store_chunk(r, keep, k, ids, dup) : 0;
    if (rc != 0)
        return rc; /* the store failed: nothing of this request is acknowledged */
    for (size_t i = 0, j = 0; i < n; i++) {
        if (!c->valid[i]) {
            write_failed(o, base + i, c->errs.data + c->err_off[i], c->err_len[i]);
        } else {
            write_stored(o, base + i, ids[j], dup[j]);
            j++;
        }
    }
    return 0;
}

/* Every item is validated before the first chunk is stored: the first write takes the
 * process write lock until the loop turn commits, and validation need not hold it. */
/* a validated batch: its chunks, from the prepare step to the handler */
typedef struct {
    chunk_t *c;
    size_t n_chunks, total;
} batch_t;

static size_t chunk_size(const batch_t *b, size_t k)
{
    size_t base = k * INS_CHUNK;
    return b->total - base < INS_CHUNK ? b->total - base : INS_CHUNK;
}

static void batch_dispose(void *p)
{
    batch_t *b = p;
    for (size_t k = 0; k < b->n_chunks; k++) {
        for (size_t i = 0; i < chunk_size(b, k); i++)
            if (b->c[k].valid[i])
                ins_item_clear(&b->c[k].items[i]);
        cn_buf_free(&b->c[k].errs);
    }
    free(b->c);
}

/* Every item is validated and enriched before the request waits for the write
 * transaction: the process write lock is then held only while the rows are written. */
int ins_prepare_batch(cn_req_t *r)
{
    h2o_iovec_t key;
    int rc = header_key(r, &key);
    if (rc != 0)
        return rc;
    json_t *arr = json_object_get(r->body, "items");
    batch_t *b = h2o_mem_alloc_shared(&r->h->pool, sizeof(*b), batch_dispose);
    b->total = json_array_size(arr);
    b->n_chunks = (b->total + INS_CHUNK - 1) / INS_CHUNK;
    b->c = cn_calloc(b->n_chunks ? b->n_chunks : 1, sizeof(chunk_t));
    int64_t now = cn_now_ms();
    for (size_t k = 0; k < b->n_chunks; k++)
        validate_chunk(&b->c[k], arr, k * INS_CHUNK, chunk_size(b, k), key, now);
    r->prepared = b;
    return 0;
}

int ins_ingest_batch(cn_req_t *r)
{
    batch_t *b = r->prepared;
    batch_out_t o = {0};
    cn_jw_init(&o.w, cn_reply_buffer(r));
    cn_jw_object(&o.w);
    cn_jw_key(&o.w, "results");
    cn_jw_array(&o.w);
    int rc = 0;
    for (size_t k = 0; k < b->n_chunks && rc == 0; k++)
        rc = flush_chunk(r, &o, &b->c[k], k * INS_CHUNK, chunk_size(b, k));
    if (rc != 0)
        return rc;
    cn_jw_end(&o.w);
    cn_jw_key(&o.w, "created");
    cn_jw_int(&o.w, o.created);
    cn_jw_key(&o.w, "duplicates");
    cn_jw_int(&o.w, o.duplicates);
    cn_jw_key(&o.w, "failed");
    cn_jw_int(&o.w, o.failed);
    cn_jw_end(&o.w);
    return cn_reply_json_buf(r, 200);
}
