/*
 * CSV in and out. An import stores the uploaded file and runs as a job that reads it
 * with the streaming CSV reader and commits every 100 records together with its
 * position (next_record) and counters, so a crash resumes after the last committed
 * chunk and no acknowledged row is stored twice (each row also carries an idempotency
 * key derived from the import and its record number). The export streams pages of the
 * filtered list as the client reads them: memory stays at one page whatever the size.
 */
#include "apps/insights/internal.h"
#include "lib/csv.h"
#include "lib/formats.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FEED_BYTES 65536
#define EXPORT_PAGE 500
#define ERRORS_KEPT 10000 /* rejected rows reported per import; all are counted */

static const char *const columns[] = {"customer_id", "timestamp", "channel",         "event_type",
                                      "content",     "metadata",  "idempotency_key", NULL};
enum { COL_CUSTOMER, COL_TS, COL_CHANNEL, COL_EVENT, COL_CONTENT, COL_METADATA, COL_KEY, N_COLS };

/* ---- the header ---- */

/* Maps header names to columns; the first four are required, unknown names are errors. */
static int map_header(const cn_csv_record_t *rec, int col[N_COLS], char *msg, size_t cap)
{
    for (int c = 0; c < N_COLS; c++)
        col[c] = -1;
    for (size_t i = 0; i < rec->n; i++) {
        int c = 0;
        while (columns[c] && strcmp(columns[c], rec->fields[i]) != 0)
            c++;
        if (columns[c] == NULL) {
            snprintf(msg, cap,
                     "unknown column \"%.40s\" (known: customer_id, timestamp, channel, "
                     "event_type, content, metadata, idempotency_key)",
                     rec->fields[i]);
            return -1;
        }
        if (col[c] >= 0) {
            snprintf(msg, cap, "the column %s appears twice", columns[c]);
            return -1;
        }
        col[c] = (int)i;
    }
    for (int c = 0; c < COL_CONTENT; c++)
        if (col[c] < 0) {
            snprintf(msg, cap, "the column %s is required", columns[c]);
            return -1;
        }
    return 0;
}

typedef struct {
    int col[N_COLS];
    int seen, ok;
    char msg[200];
} header_check_t;

static int on_header(const cn_csv_record_t *rec, void *ud)
{
    header_check_t *h = ud;
    h->seen = 1;
    if (rec->error)
        snprintf(h->msg, sizeof(h->msg), "the header row is malformed: %s", rec->error);
    else
        h->ok = map_header(rec, h->col, h->msg, sizeof(h->msg)) == 0;
    return CN_CSV_STOP; /* only the first record */
}

/* ---- the import request ---- */

static int check_header(cn_req_t *r, const char *data, size_t len)
{
    header_check_t h = {0};
    cn_csv_reader_t *rd = cn_csv_reader_new(NULL, on_header, &h);
    if (rd == NULL)
        return cn_fail(r, CN_ERR, "out of memory");
    for (size_t off = 0; off < len && !h.seen; off += FEED_BYTES)
        if (cn_csv_feed(rd, data + off, len - off < FEED_BYTES ? len - off : FEED_BYTES) != 0)
            break;
    if (!h.seen)
        cn_csv_finish(rd);
    cn_csv_reader_free(rd);
    if (!h.seen)
        return cn_fail_field(r, "header", "the file has no header row");
    if (!h.ok)
        return cn_fail_field(r, "header", h.msg);
    return 0;
}

int ins_import(cn_req_t *r)
{
    h2o_iovec_t body = r->h->entity;
    int rc = check_header(r, body.base, body.len);
    if (rc != 0)
        return rc;
    char id[CN_UUID_LEN + 1], job_id[CN_UUID_LEN + 1];
    cn_uuid7(id);
    int64_t now = cn_now_ms();
    cn_val_t a[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(id), CN_VBLOB(body.base, body.len),
                    CN_VINT((int64_t)body.len), CN_VINT(now)};
    json_t *payload = json_pack("{s:s}", "import_id", id);
    cn_job_opts_t opts = {.tenant_id = cn_req_tenant(r)};
    if ((rc = cn_store_exec(r->store,
                            "INSERT INTO insight_imports (tenant_id, id, csv, bytes, created_at)"
                            " VALUES ($1, $2, $3, $4, $5)",
                            a, 5, NULL, &r->err)) == 0 &&
        (rc = cn_jobs_enqueue(r->store, "insights.import", payload, &opts, job_id, &r->err)) == 0) {
        cn_val_t u[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(id), CN_VTEXT(job_id)};
        rc = cn_store_exec(
            r->store, "UPDATE insight_imports SET job_id = $3 WHERE tenant_id = $1 AND id = $2", u,
            3, NULL, &r->err);
    }
    json_decref(payload);
    if (rc != 0) /* the kernel rolls back the import row and its job together */
        return rc;
    char location[96];
    snprintf(location, sizeof(location), "/api/v1/interactions/imports/%s", id);
    cn_reply_header(r, "location", location, strlen(location));
    return cn_reply_json(r, 202,
                         json_pack("{s:s, s:s, s:s, s:I}", "id", id, "job_id", job_id, "state",
                                   "queued", "bytes", (json_int_t)body.len));
}

int ins_get_import(cn_req_t *r)
{
    cn_val_t a[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(cn_req_param(r, "id"))};
    cn_stmt_t *st;
    int rc = cn_store_query(r->store,
                            "SELECT id, job_id, state, bytes, next_record, rows_done, rows_failed,"
                            " created_at, finished_at FROM insight_imports"
                            " WHERE tenant_id = $1 AND id = $2",
                            a, 2, &st, &r->err);
    if (rc != 0)
        return rc;
    json_t *out = NULL;
    if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        out = json_pack(
            "{s:s, s:s?, s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "id", cn_stmt_text(st, 0, NULL),
            "job_id", cn_stmt_text(st, 1, NULL), "state", cn_stmt_text(st, 2, NULL), "bytes",
            (json_int_t)cn_stmt_int(st, 3), "records_read", (json_int_t)(cn_stmt_int(st, 4) - 2),
            "rows_done", (json_int_t)cn_stmt_int(st, 5), "rows_failed",
            (json_int_t)cn_stmt_int(st, 6), "created_at", (json_int_t)cn_stmt_int(st, 7),
            "finished_at",
            cn_stmt_is_null(st, 8) ? json_null() : json_integer((json_int_t)cn_stmt_int(st, 8)));
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    if (out == NULL)
        return cn_fail(r, CN_ENOTFOUND, "no import with this id");
    return cn_reply_json(r, 200, out);
}

int ins_import_errors(cn_req_t *r)
{
    cn_val_t a[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(cn_req_param(r, "id"))};
    int rc = cn_store_exists(
        r->store, "SELECT 1 FROM insight_imports WHERE tenant_id = $1 AND id = $2", a, 2, &r->err);
    if (rc != 0)
        return rc == CN_ENOTFOUND ? cn_fail(r, rc, "no import with this id") : rc;
    cn_stmt_t *st;
    if ((rc = cn_store_query(r->store,
                             "SELECT record, line, message FROM insight_import_errors"
                             " WHERE tenant_id = $1 AND import_id = $2 ORDER BY record",
                             a, 2, &st, &r->err)) != 0)
        return rc;
    cn_csv_buf_t out = {0};
    cn_csv_write_field(&out, "record", 6, 0);
    cn_csv_write_field(&out, "line", 4, 0);
    cn_csv_write_field(&out, "error", 5, 0);
    cn_csv_end_record(&out);
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        char num[24];
        size_t len;
        for (int c = 0; c < 2; c++)
            cn_csv_write_field(
                &out, num,
                (size_t)snprintf(num, sizeof(num), "%lld", (long long)cn_stmt_int(st, c)), 0);
        const char *m = cn_stmt_text(st, 2, &len);
        cn_csv_write_field(&out, m, len, CN_CSV_TEXT);
        cn_csv_end_record(&out);
    }
    cn_stmt_finish(st);
    if (rc >= 0)
        rc = cn_reply_raw(r, 200, "text/csv; charset=utf-8", out.data, out.len);
    cn_csv_buf_free(&out);
    return rc < 0 ? rc : 0;
}

/* ---- the import job ---- */

typedef struct {
    uint64_t record, line;
    char msg[200];
} row_error_t;

typedef struct {
    cn_job_t *job;
    cn_err_t *err;
    const char *import_id;
    int col[N_COLS];
    int64_t next_record; /* the first record not committed yet */
    int64_t done, failed;
    /* the chunk being gathered */
    json_t *objs[INS_CHUNK];
    ins_item_t items[INS_CHUNK];
    size_t n_items, n_records;
    row_error_t errors[INS_CHUNK];
    size_t n_errors;
    uint64_t last_record;
    int rc;
} import_t;

static void reject(import_t *im, const cn_csv_record_t *rec, const char *fmt, const char *detail)
{
    row_error_t *e = &im->errors[im->n_errors++];
    e->record = rec->record_no;
    e->line = rec->line;
    snprintf(e->msg, sizeof(e->msg), fmt, detail);
}

static void set_field(json_t *o, const char *name, const cn_csv_record_t *rec, int col)
{
    if (col >= 0 && rec->lens[col] > 0)
        json_object_set_new(o, name, json_stringn(rec->fields[col], rec->lens[col]));
}

/* A CSV cell is text, but a time may be integer Unix milliseconds as in JSON: an
 * all-digit cell (optionally signed) becomes an integer, so the one time rule of the
 * schema applies to both forms. Anything else, and a number that overflows, stays text
 * and is judged (and refused, naming the field) as the JSON string would be. */
static void set_time_field(json_t *o, const char *name, const cn_csv_record_t *rec, int col)
{
    if (col < 0 || rec->lens[col] == 0)
        return;
    const char *cell = rec->fields[col];
    size_t len = rec->lens[col], i = cell[0] == '-';
    char digits[24];
    int all_digits = len > i && len < sizeof(digits);
    for (size_t k = i; all_digits && k < len; k++)
        all_digits = isdigit((unsigned char)cell[k]) != 0;
    if (all_digits) {
        memcpy(digits, cell, len);
        digits[len] = '\0';
        char *end;
        errno = 0;
        long long ms = strtoll(digits, &end, 10);
        if (errno == 0 && *end == '\0') {
            json_object_set_new(o, name, json_integer((json_int_t)ms));
            return;
        }
    }
    set_field(o, name, rec, col);
}

/* record -> interaction object, or NULL with the reason in why */
static json_t *record_object(import_t *im, const cn_csv_record_t *rec, char *why, size_t cap)
{
    json_t *o = json_object();
    for (int c = 0; c < N_COLS; c++)
        if (c == COL_TS)
            set_time_field(o, columns[c], rec, im->col[c]);
        else if (c != COL_METADATA)
            set_field(o, columns[c], rec, im->col[c]);
    int mc = im->col[COL_METADATA];
    if (mc >= 0 && rec->lens[mc] > 0) {
        json_error_t jerr;
        json_t *md = json_loadb(rec->fields[mc], rec->lens[mc], JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(md)) {
            snprintf(why, cap, "metadata: must be a JSON object");
            json_decref(md);
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "metadata", md);
    }
    return o;
}

static void verrors_text(const cn_verrors_t *e, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < e->count && n < cap; i++) {
        int k = snprintf(out + n, cap - n, "%s%s: %s", i ? "; " : "", e->items[i].field,
                         e->items[i].message);
        if (k < 0)
            break;
        n += (size_t)k;
    }
}

static void take_record(import_t *im, const cn_csv_record_t *rec)
{
    char why[200];
    if (rec->error) {
        reject(im, rec, "malformed CSV: %s", rec->error);
        return;
    }
    size_t header_n = 0;
    for (int c = 0; c < N_COLS; c++)
        header_n += im->col[c] >= 0;
    if (rec->n != header_n) {
        snprintf(why, sizeof(why), "%zu fields, the header has %zu", rec->n, header_n);
        reject(im, rec, "%s", why);
        return;
    }
    json_t *o = record_object(im, rec, why, sizeof(why));
    if (o == NULL) {
        reject(im, rec, "%s", why);
        return;
    }
    size_t k = im->n_items;
    cn_verrors_t e = {0};
    if (ins_validate(o, cn_now_ms(), "", &im->items[k], &e) != 0) {
        verrors_text(&e, why, sizeof(why));
        reject(im, rec, "%s", why);
        json_decref(o);
        return;
    }
    ins_item_t *it = &im->items[k];
    if (it->idem == NULL) { /* a resumed import must not store a committed row again */
        snprintf(it->idem_buf, sizeof(it->idem_buf), "import:%s:%llu", im->import_id,
                 (unsigned long long)rec->record_no);
        it->idem = it->idem_buf;
        it->idem_len = strlen(it->idem_buf);
    }
    im->objs[k] = o;
    im->n_items++;
}

static int save_errors(import_t *im)
{
    int rc = 0;
    for (size_t i = 0; i < im->n_errors && rc == 0; i++) {
        if (im->failed + (int64_t)i >= ERRORS_KEPT)
            break;
        cn_val_t a[] = {CN_VTEXT(im->job->tenant_id), CN_VTEXT(im->import_id),
                        CN_VINT((int64_t)im->errors[i].record),
                        CN_VINT((int64_t)im->errors[i].line), CN_VTEXT(im->errors[i].msg)};
        rc = cn_store_exec(im->job->store,
                           "INSERT INTO insight_import_errors (tenant_id, import_id, record, line,"
                           " message) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                           a, 5, NULL, im->err);
    }
    return rc;
}

static int save_position(import_t *im, const char *state)
{
    cn_val_t a[] = {CN_VTEXT(im->job->tenant_id), CN_VTEXT(im->import_id),
                    CN_VINT(im->next_record),     CN_VINT(im->done),
                    CN_VINT(im->failed),          CN_VTEXT(state),
                    CN_VINT(cn_now_ms())};
    int rc =
        cn_store_exec(im->job->store,
                      "UPDATE insight_imports SET next_record = $3, rows_done = $4,"
                      " rows_failed = $5, state = $6, finished_at = CASE WHEN $6 = 'done'"
                      " THEN CAST($7 AS BIGINT) ELSE NULL END WHERE tenant_id = $1 AND id = $2",
                      a, 7, NULL, im->err);
    if (rc != 0)
        return rc;
    json_t *p = json_pack("{s:s, s:I, s:I, s:I}", "import_id", im->import_id, "rows_done",
                          (json_int_t)im->done, "rows_failed", (json_int_t)im->failed,
                          "records_read", (json_int_t)(im->next_record - 2));
    rc = cn_jobs_set_progress(im->job->store, im->job->id, p, im->err);
    json_decref(p);
    return rc;
}

/* Commits the gathered chunk with the import's new position, in one transaction. */
static int flush(import_t *im, const char *state)
{
    cn_store_t *s = im->job->store;
    int rc = cn_store_begin(s, im->err);
    if (rc != 0)
        return rc;
    char(*ids)[CN_UUID_LEN + 1] = cn_malloc(INS_CHUNK * sizeof(*ids));
    unsigned char dup[INS_CHUNK];
    if (im->n_items)
        rc = ins_store_items(s, im->job->tenant_id, im->items, im->n_items, ids, dup, im->err);
    free(ids);
    if (im->n_records)
        im->next_record = (int64_t)im->last_record + 1;
    if (rc == 0 && (rc = save_errors(im)) == 0) {
        im->done += (int64_t)im->n_items;
        im->failed += (int64_t)im->n_errors;
        rc = save_position(im, state);
    }
    rc = cn_store_end(s, rc, im->err);
    for (size_t i = 0; i < im->n_items; i++) {
        ins_item_clear(&im->items[i]);
        json_decref(im->objs[i]);
    }
    im->n_items = im->n_records = im->n_errors = 0;
    return rc;
}

static int on_record(const cn_csv_record_t *rec, void *ud)
{
    import_t *im = ud;
    if (rec->record_no == 1) {
        char msg[200];
        if (rec->error || map_header(rec, im->col, msg, sizeof(msg)) != 0) {
            im->rc = cn_err_set(im->err, CN_EINVAL, "the header row is not valid");
            return CN_CSV_STOP;
        }
        return CN_CSV_GO_ON;
    }
    if ((int64_t)rec->record_no < im->next_record) /* committed by an earlier run */
        return CN_CSV_GO_ON;
    take_record(im, rec);
    im->last_record = rec->record_no;
    if (++im->n_records == INS_CHUNK && (im->rc = flush(im, "running")) != 0)
        return CN_CSV_STOP;
    return CN_CSV_GO_ON;
}

static int load_import(import_t *im, cn_buf_t *csv, int *finished)
{
    cn_val_t a[] = {CN_VTEXT(im->job->tenant_id), CN_VTEXT(im->import_id)};
    cn_stmt_t *st;
    int rc = cn_store_query(im->job->store,
                            "SELECT csv, next_record, rows_done, rows_failed, state"
                            " FROM insight_imports WHERE tenant_id = $1 AND id = $2",
                            a, 2, &st, im->err);
    if (rc != 0)
        return rc;
    if ((rc = cn_stmt_step(st, im->err)) == CN_ROW) {
        size_t len;
        const char *data = cn_stmt_text(st, 0, &len);
        cn_buf_append(csv, data, len);
        im->next_record = cn_stmt_int(st, 1);
        im->done = cn_stmt_int(st, 2);
        im->failed = cn_stmt_int(st, 3);
        *finished = strcmp(cn_stmt_text(st, 4, NULL), "done") == 0;
    }
    cn_stmt_finish(st);
    if (rc == CN_DONE)
        return cn_err_set(im->err, CN_ENOTFOUND, "import %s no longer exists", im->import_id);
    return rc < 0 ? rc : 0;
}

int ins_run_import(cn_job_t *job, cn_err_t *err)
{
    import_t *im = cn_calloc(1, sizeof(*im));
    im->job = job;
    im->err = err;
    im->import_id = json_string_value(json_object_get(job->payload, "import_id"));
    cn_buf_t csv = {0};
    int finished = 0, rc;
    if (im->import_id == NULL || job->tenant_id == NULL)
        rc = cn_err_set(err, CN_EINVAL, "payload: import_id and a tenant are required");
    else
        rc = load_import(im, &csv, &finished);
    cn_csv_reader_t *rd = rc == 0 && !finished ? cn_csv_reader_new(NULL, on_record, im) : NULL;
    for (size_t off = 0; rd != NULL && off < csv.len && im->rc == 0; off += FEED_BYTES)
        cn_csv_feed(rd, csv.data + off, csv.len - off < FEED_BYTES ? csv.len - off : FEED_BYTES);
    if (rd != NULL && im->rc == 0)
        cn_csv_finish(rd);
    if (rd != NULL && im->rc == 0)
        im->rc = flush(im, "done");
    if (rd != NULL)
        rc = im->rc;
    for (size_t i = 0; i < im->n_items; i++) { /* left by a failed flush */
        ins_item_clear(&im->items[i]);
        json_decref(im->objs[i]);
    }
    cn_csv_reader_free(rd);
    cn_buf_free(&csv);
    free(im);
    return rc;
}

/* ---- the export ---- */

typedef struct {
    h2o_generator_t gen;
    h2o_req_t *req;
    cn_store_t *store;
    char tenant[64];
    ins_filter_t f;
    cn_csv_buf_t out;
    int finished, stopped;
} export_t;

static const char *const export_header[] = {
    "id",     "customer_id", "timestamp", "channel",    "event_type",   "content",   "metadata",
    "device", "os",          "client",    "country",    "city",         "sentiment", "pos",
    "neu",    "neg",         "compound",  "confidence", "processed_at", NULL};

static void export_row(cn_csv_buf_t *out, cn_stmt_t *st)
{
    char num[40];
    for (int c = 0; c < 19; c++) {
        size_t len = 0;
        const char *t = NULL;
        if (cn_stmt_is_null(st, c)) {
            t = "";
        } else if (c == 2 || c == 18) {
            len = cn_format_rfc3339(cn_stmt_int(st, c), num);
            t = num;
        } else if (c >= 13 && c <= 17) {
            len = (size_t)snprintf(num, sizeof(num), "%.4f", cn_stmt_real(st, c));
            t = num;
        } else {
            t = cn_stmt_text(st, c, &len);
        }
        if (t[0] == '\0')
            len = 0;
        /* free text could start with = or @ and run as a formula in a spreadsheet */
        cn_csv_write_field(out, t, len, c == 4 || c == 5 || c == 6 ? CN_CSV_TEXT : 0);
    }
    cn_csv_end_record(out);
}

/* Reads the next page into x->out; sets finished after the last one. */
static int export_page(export_t *x)
{
    char sql[INS_SQL_MAX];
    cn_val_t args[INS_ARGS_MAX];
    x->f.limit = EXPORT_PAGE;
    size_t n = ins_filter_sql(&x->f, x->tenant, INS_SELECT_ROWS, 1, sql, args);
    cn_stmt_t *st;
    cn_err_t err;
    int rc = cn_store_query(x->store, sql, args, n, &st, &err);
    if (rc != 0)
        return rc;
    int64_t rows = 0;
    x->out.len = 0;
    while ((rc = cn_stmt_step(st, &err)) == CN_ROW && rows < EXPORT_PAGE) {
        export_row(&x->out, st);
        rows++;
        x->f.has_cursor = 1;
        x->f.cursor_ts = cn_stmt_int(st, 2);
        x->f.cursor_compound = cn_stmt_real(st, 16);
        x->f.cursor_seq = cn_stmt_int(st, INS_COL_SEQ);
    }
    x->finished = rc != CN_ROW; /* the extra row did not come: this was the last page */
    cn_stmt_finish(st);
    return rc < 0 ? rc : 0;
}

static void export_send(export_t *x)
{
    if (export_page(x) != 0) { /* the status is sent: all that is left is to cut it short */
        x->finished = 1;
        x->out.len = 0;
        x->req->http1_is_persistent = 0;
    }
    h2o_iovec_t v = h2o_iovec_init(x->out.data, x->out.len);
    h2o_send(x->req, &v, 1, x->finished ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void export_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    export_t *x = H2O_STRUCT_FROM_MEMBER(export_t, gen, gen);
    if (!x->stopped && !x->finished)
        export_send(x);
}

static void export_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    export_t *x = H2O_STRUCT_FROM_MEMBER(export_t, gen, gen);
    x->stopped = 1;
}

static void export_dispose(void *p)
{
    export_t *x = p;
    cn_csv_buf_free(&x->out);
}

int ins_export(cn_req_t *r)
{
    h2o_req_t *req = r->h;
    export_t *x = h2o_mem_alloc_shared(&req->pool, sizeof(*x), export_dispose);
    memset(x, 0, sizeof(*x));
    if (ins_filter_parse(r->query, &x->f, &r->verrors) != 0)
        return cn_fail(r, CN_EVALIDATION, "the query has invalid parameters");
    x->req = req;
    x->store = r->store;
    snprintf(x->tenant, sizeof(x->tenant), "%s", cn_req_tenant(r));
    x->gen.proceed = export_proceed;
    x->gen.stop = export_stop;
    static const char *const headers[] = {"content-disposition",
                                          "attachment; filename=\"interactions.csv\"", NULL};
    if (cn_reply_stream(r, "text/csv; charset=utf-8", headers, &x->gen) != CN_STREAMING) {
        x->finished = 1; /* HEAD: the headers were the whole answer */
        return 0;
    }
    cn_csv_buf_t head = {0};
    for (int c = 0; export_header[c]; c++)
        cn_csv_write_field(&head, export_header[c], strlen(export_header[c]), 0);
    cn_csv_end_record(&head);
    if (export_page(x) != 0) {
        x->finished = 1;
        x->out.len = 0;
    }
    /* the header goes first, in the same write as the first page */
    cn_csv_buf_t first = {0};
    cn_csv_write_bom(&first);
    size_t need = first.len + head.len + x->out.len;
    char *buf = h2o_mem_alloc_pool(&req->pool, need + 1);
    memcpy(buf, first.data, first.len);
    memcpy(buf + first.len, head.data, head.len);
    if (x->out.len) /* an empty first page has no buffer at all */
        memcpy(buf + first.len + head.len, x->out.data, x->out.len);
    cn_csv_buf_free(&first);
    cn_csv_buf_free(&head);
    h2o_iovec_t v = h2o_iovec_init(buf, need);
    h2o_send(req, &v, 1, x->finished ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
    return 0;
}
