/*
 * notes module (see notes.h). Every statement filters on tenant_id, so a note of another
 * tenant is indistinguishable from a missing one (404). Lists are newest first and
 * paginated by an opaque cursor (the last id, base64url-encoded).
 */
#include "apps/notes/notes.h"
#include "core/cache.h"
#include "core/events.h"
#include "core/http.h"
#include "core/page.h"
#include "lib/formats.h"

#include <string.h>

/* PostgreSQL's schema (see cn_migration_t): the latest one at version 1, BIGINT for the
 * integers (PostgreSQL's INTEGER is 32 bits and the times are Unix ms). */
static const char notes_pg[] = "CREATE TABLE notes ("
                               " tenant_id TEXT NOT NULL,"
                               " id TEXT NOT NULL,"
                               " title TEXT NOT NULL,"
                               " body TEXT NOT NULL DEFAULT '',"
                               " created_at BIGINT NOT NULL,"
                               " updated_at BIGINT NOT NULL,"
                               " words BIGINT NOT NULL DEFAULT 0,"
                               " analyses BIGINT NOT NULL DEFAULT 0,"
                               " PRIMARY KEY (tenant_id, id))";

static const cn_migration_t migrations[] = {
    {1, "create_notes",
     "CREATE TABLE notes ("
     " tenant_id TEXT NOT NULL,"
     " id TEXT NOT NULL,"
     " title TEXT NOT NULL,"
     " body TEXT NOT NULL DEFAULT '',"
     " created_at INTEGER NOT NULL,"
     " updated_at INTEGER NOT NULL,"
     " PRIMARY KEY (tenant_id, id))",
     notes_pg},
    /* filled by the notes.analyse job; analyses counts its runs (tests prove exactly-once) */
    {2, "note_analysis",
     "ALTER TABLE notes ADD COLUMN words INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE notes ADD COLUMN analyses INTEGER NOT NULL DEFAULT 0",
     ""},
    {0},
};

static const cn_field_t create_fields[] = {
    {"title", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 200, .single_line = 1,
     .description = "Short title"},
    {"body", CN_T_STRING, .max_len = 100000, .description = "Free text"},
    {0},
};
static const cn_schema_t create_schema = {"NoteCreate", create_fields};

static const cn_field_t update_fields[] = {
    {"title", CN_T_STRING, .min_len = 1, .max_len = 200, .single_line = 1},
    {"body", CN_T_STRING, .max_len = 100000},
    {0},
};
static const cn_schema_t update_schema = {"NoteUpdate", update_fields};

#define NOTE_COLUMNS "id, title, body, created_at, updated_at, words, analyses"

typedef struct {
    const char *id, *title, *body;
    size_t id_len, title_len, body_len;
    int64_t created_at, updated_at;
    int64_t words, analyses; /* set by the notes.analyse job */
} note_t;

static note_t note_from_row(cn_stmt_t *st)
{
    note_t n;
    n.id = cn_stmt_text(st, 0, &n.id_len);
    n.title = cn_stmt_text(st, 1, &n.title_len);
    n.body = cn_stmt_text(st, 2, &n.body_len);
    n.created_at = cn_stmt_int(st, 3);
    n.updated_at = cn_stmt_int(st, 4);
    n.words = cn_stmt_int(st, 5);
    n.analyses = cn_stmt_int(st, 6);
    return n;
}

static void write_note(cn_jw_t *w, const note_t *n)
{
    cn_jw_object(w);
    cn_jw_key(w, "id");
    cn_jw_str(w, n->id, n->id_len);
    cn_jw_key(w, "title");
    cn_jw_str(w, n->title, n->title_len);
    cn_jw_key(w, "body");
    cn_jw_str(w, n->body, n->body_len);
    cn_jw_key(w, "created_at");
    cn_jw_int(w, n->created_at);
    cn_jw_key(w, "updated_at");
    cn_jw_int(w, n->updated_at);
    cn_jw_key(w, "words");
    cn_jw_int(w, n->words);
    cn_jw_key(w, "analyses");
    cn_jw_int(w, n->analyses);
    cn_jw_end(w);
}

/*
 * Publishes a change on the tenant's "notes" channel, in the change's transaction. If
 * that fails the handler fails, and the kernel rolls the change back with it.
 */
static int publish(cn_req_t *r, const char *type, const char *json, size_t len)
{
    return cn_event_publish_text(r->store, cn_req_tenant(r), "notes", type, json, len, &r->err);
}

/* Runs a statement expected to return at most one note row and answers with it; event
 * (may be NULL) is published with the row as its data. */
static int reply_one(cn_req_t *r, int status, const char *sql, const cn_val_t *args, size_t n,
                     const char *event)
{
    cn_stmt_t *st;
    int rc = cn_store_query(r->store, sql, args, n, &st, &r->err);
    if (rc != 0)
        return rc;
    rc = cn_stmt_step(st, &r->err);
    cn_buf_t *b = cn_reply_buffer(r); /* (asking again would empty it) */
    if (rc == CN_ROW) {
        cn_jw_t w;
        cn_jw_init(&w, b);
        note_t note = note_from_row(st);
        write_note(&w, &note);
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    if (rc != CN_ROW)
        return cn_fail(r, CN_ENOTFOUND, "no note with this id");
    if (event != NULL && (rc = publish(r, event, b->data, b->len)) != 0)
        return rc;
    return cn_reply_json_buf(r, status);
}

static int create_note(cn_req_t *r)
{
    char id[CN_UUID_LEN + 1];
    cn_uuid7(id);
    json_t *title = json_object_get(r->body, "title"), *body = json_object_get(r->body, "body");
    int64_t now = cn_now_ms();
    cn_val_t args[] = {CN_VTEXT(id), CN_VTEXT(cn_req_tenant(r)),
                       CN_VTEXTN(json_string_value(title), json_string_length(title)),
                       body ? CN_VTEXTN(json_string_value(body), json_string_length(body))
                            : CN_VTEXT(""),
                       CN_VINT(now)};
    /* no RETURNING: every column is known here, and SQLite's RETURNING costs a temp table */
    int rc = cn_store_exec(r->store,
                           "INSERT INTO notes (id, tenant_id, title, body, created_at, updated_at)"
                           " VALUES ($1, $2, $3, $4, $5, $5)",
                           args, CN_ARRAY_SIZE(args), NULL, &r->err);
    if (rc != 0)
        return rc;
    char location[64];
    snprintf(location, sizeof(location), "/api/v1/notes/%s", id);
    cn_reply_header(r, "location", location, strlen(location));
    note_t n = {id,
                json_string_value(title),
                body ? json_string_value(body) : "",
                CN_UUID_LEN,
                json_string_length(title),
                body ? json_string_length(body) : 0,
                now,
                now};
    cn_jw_t w;
    cn_buf_t *b = cn_reply_buffer(r);
    cn_jw_init(&w, b);
    write_note(&w, &n);
    if ((rc = publish(r, "note.created", b->data, b->len)) != 0)
        return rc;
    return cn_reply_json_buf(r, 201);
}

static int get_note(cn_req_t *r)
{
    cn_val_t args[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(cn_req_param(r, "id"))};
    return reply_one(r, 200, "SELECT " NOTE_COLUMNS " FROM notes WHERE tenant_id = $1 AND id = $2",
                     args, 2, NULL);
}

static int update_note(cn_req_t *r)
{
    json_t *title = json_object_get(r->body, "title"), *body = json_object_get(r->body, "body");
    if (title == NULL && body == NULL)
        return cn_fail_field(r, "", "give at least one of title, body");
    cn_val_t args[] = {
        CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(cn_req_param(r, "id")),
        title ? CN_VTEXTN(json_string_value(title), json_string_length(title)) : CN_VNULL,
        body ? CN_VTEXTN(json_string_value(body), json_string_length(body)) : CN_VNULL,
        CN_VINT(cn_now_ms())};
    return reply_one(r, 200,
                     "UPDATE notes SET title = COALESCE($3, title), body = COALESCE($4, body),"
                     " updated_at = $5 WHERE tenant_id = $1 AND id = $2 RETURNING " NOTE_COLUMNS,
                     args, CN_ARRAY_SIZE(args), "note.updated");
}

static int delete_note(cn_req_t *r)
{
    cn_val_t args[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(cn_req_param(r, "id"))};
    int64_t changes = 0;
    int rc = cn_store_exec(r->store, "DELETE FROM notes WHERE tenant_id = $1 AND id = $2", args, 2,
                           &changes, &r->err);
    if (rc != 0)
        return rc;
    if (changes == 0)
        return cn_fail(r, CN_ENOTFOUND, "no note with this id");
    char data[96];
    int n = snprintf(data, sizeof(data), "{\"id\":\"%s\"}", cn_req_param(r, "id"));
    if ((rc = publish(r, "note.deleted", data, (size_t)n)) != 0)
        return rc;
    return cn_reply_empty(r, 204);
}

/* Lists are answered from the cache until a note.* event of the tenant invalidates them. */
static const char *const list_tags[] = {"notes", NULL};

static int list_notes(cn_req_t *r)
{
    cn_cached_req_t cached;
    if (cn_cache_request(r, list_tags, &cached) == CN_CACHE_HIT)
        return cn_reply_json_buf(r, 200);
    const char *tenant = cn_req_tenant(r);
    cn_page_t page;
    int rc = cn_page_begin(r, &page);
    if (rc != 0)
        return rc;
    /* newest first: "~" sorts after every id, so the first page starts at the top */
    cn_val_t args[] = {CN_VTEXT(tenant), CN_VTEXT(page.after[0] ? page.after : "~"),
                       CN_VINT(page.limit + 1)};
    cn_stmt_t *st;
    if ((rc = cn_store_query(r->store,
                             "SELECT " NOTE_COLUMNS " FROM notes WHERE tenant_id = $1 AND id < $2"
                             " ORDER BY id DESC LIMIT $3",
                             args, 3, &st, &r->err)) != 0)
        return rc;
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW && cn_page_room(&page)) {
        note_t n = note_from_row(st);
        write_note(&page.w, &n);
        cn_page_item(&page, n.id, n.id_len);
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    cn_page_end_items(&page);
    cn_jw_end(&page.w);
    cn_cache_answer(r, &cached, page.w.b, 0);
    return cn_reply_json_buf(r, 200);
}

static void invalidate_lists(const cn_event_t *ev, void *ud)
{
    (void)ud;
    cn_cache_invalidate(ev->tenant_id, "notes");
}

/* Queues notes.analyse for the note's current version: asking twice for an unchanged note
 * answers with the same job. */
static int analyse_note(cn_req_t *r)
{
    const char *id = cn_req_param(r, "id");
    cn_val_t args[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(id)};
    int64_t updated_at = 0;
    int rc =
        cn_store_one_int(r->store, "SELECT updated_at FROM notes WHERE tenant_id = $1 AND id = $2",
                         args, 2, &updated_at, &r->err);
    if (rc != 0)
        return rc == CN_ENOTFOUND ? cn_fail(r, rc, "no note with this id") : rc;
    char key[80], job_id[CN_UUID_LEN + 1];
    snprintf(key, sizeof(key), "%s:%lld", id, (long long)updated_at);
    json_t *payload = json_pack("{s:s}", "note_id", id);
    cn_job_opts_t opts = {.tenant_id = cn_req_tenant(r), .unique_key = key};
    rc = cn_jobs_enqueue(r->store, "notes.analyse", payload, &opts, job_id, &r->err);
    json_decref(payload);
    if (rc != 0)
        return rc;
    return cn_reply_json(r, 202, json_pack("{s:s}", "job_id", job_id));
}

static int64_t count_words(const char *s, size_t len)
{
    int64_t n = 0;
    int in_word = 0;
    for (size_t i = 0; i < len; i++) {
        int space = s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r');
        n += !space && !in_word;
        in_word = !space;
    }
    return n;
}

/* The notes.analyse job: counts the words of the note's title and body and publishes
 * note.updated. Idempotent (the count is recomputed); analyses + 1 commits with the job's
 * done mark, so it counts runs that took effect. A note deleted meanwhile fails the run
 * (retried, then dead). */
static int run_analyse(cn_job_t *job, cn_err_t *err)
{
    const char *id = json_string_value(json_object_get(job->payload, "note_id"));
    if (id == NULL || job->tenant_id == NULL)
        return cn_err_set(err, CN_EINVAL, "payload: note_id and a tenant are required");
    cn_val_t args[] = {CN_VTEXT(job->tenant_id), CN_VTEXT(id), CN_VINT(0)};
    cn_stmt_t *st;
    int rc =
        cn_store_query(job->store, "SELECT title, body FROM notes WHERE tenant_id = $1 AND id = $2",
                       args, 2, &st, err);
    if (rc != 0)
        return rc;
    if ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        size_t tlen, blen;
        const char *title = cn_stmt_text(st, 0, &tlen), *body = cn_stmt_text(st, 1, &blen);
        args[2] = CN_VINT(count_words(title, tlen) + count_words(body, blen));
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    if (rc != CN_ROW)
        return cn_err_set(err, CN_ENOTFOUND, "note %s no longer exists", id);
    if ((rc = cn_store_query(job->store,
                             "UPDATE notes SET words = $3, analyses = analyses + 1"
                             " WHERE tenant_id = $1 AND id = $2 RETURNING " NOTE_COLUMNS,
                             args, 3, &st, err)) != 0)
        return rc;
    cn_buf_t b = {0};
    if ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        cn_jw_t w;
        cn_jw_init(&w, &b);
        note_t n = note_from_row(st);
        write_note(&w, &n);
    }
    cn_stmt_finish(st);
    /* subscribers (the list cache, realtime clients) learn of the new counts */
    if (rc == CN_ROW)
        rc = cn_event_publish_text(job->store, job->tenant_id, "notes", "note.updated", b.data,
                                   b.len, err);
    cn_buf_free(&b);
    return rc;
}

static const cn_job_type_t jobs[] = {
    {"notes.analyse", run_analyse, .max_attempts = 3},
    {0},
};

/* The answers (write_note, list_notes, analyse_note). */
static const cn_field_t note_fields[] = {
    {"id", CN_T_STRING, .required = 1, .format = CN_FMT_UUID},
    {"title", CN_T_STRING, .required = 1},
    {"body", CN_T_STRING, .required = 1},
    CN_R_TIME("created_at"),
    CN_R_TIME("updated_at"),
    {"words", CN_T_INTEGER, .required = 1, .description = "Words counted by the last analysis"},
    {"analyses", CN_T_INTEGER, .required = 1, .description = "Analyses run so far"},
    {0},
};
static const cn_schema_t note_schema = {"Note", note_fields};
static const cn_field_t note_list_fields[] = {CN_PAGE_FIELDS(&note_schema), {0}};
static const cn_schema_t note_list_schema = {"NoteList", note_list_fields};
static const cn_field_t queued_fields[] = {
    {"job_id", CN_T_STRING, .required = 1, .format = CN_FMT_UUID},
    {0},
};
static const cn_schema_t queued_schema = {"NoteAnalysisQueued", queued_fields};

static const cn_route_t routes[] = {
    {CN_POST, "/api/v1/notes", create_note, "notes.write", .body = &create_schema,
     .summary = "Create a note", .success_status = 201, .response = &note_schema,
     .operation = "notes.create"},
    {CN_GET, "/api/v1/notes", list_notes, "notes.read", .query = &cn_page_query,
     .summary = "List notes, newest first", .response = &note_list_schema,
     .operation = "notes.list"},
    {CN_GET, "/api/v1/notes/{id}", get_note, "notes.read", .params = &cn_id_param,
     .summary = "Get a note", .response = &note_schema, .operation = "notes.get"},
    {CN_PATCH, "/api/v1/notes/{id}", update_note, "notes.write", .body = &update_schema,
     .params = &cn_id_param, .summary = "Change a note's title or body", .response = &note_schema,
     .operation = "notes.update"},
    {CN_DELETE, "/api/v1/notes/{id}", delete_note, "notes.write", .params = &cn_id_param,
     .summary = "Delete a note", .success_status = 204, .operation = "notes.delete"},
    {CN_POST, "/api/v1/notes/{id}/analyse", analyse_note, "notes.write", .params = &cn_id_param,
     .summary = "Count the note's words in the background (answers the job id)",
     .success_status = 202, .response = &queued_schema, .operation = "notes.analyse"},
    {0},
};

static const cn_permission_t permissions[] = {
    {"notes.read", "Read notes", CN_ROLES_ALL},
    {"notes.write", "Create, change and delete notes", CN_ROLES_MEMBERS},
    {0},
};

static const cn_channel_t channels[] = {
    {"notes", "notes.read", "note.created, note.updated (data: the note), note.deleted ({id})"},
    {0},
};

static const cn_subscription_t subscriptions[] = {
    {"note.", invalidate_lists},
    {0},
};

const cn_app_t notes_app = {
    .name = "notes",
    .description = "Demo module: tenant-scoped notes",
    .migrations = migrations,
    .routes = routes,
    .permissions = permissions,
    .jobs = jobs,
    .channels = channels,
    .subscriptions = subscriptions,
};
