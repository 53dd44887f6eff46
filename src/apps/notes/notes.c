/*
 * notes module (see notes.h). Every statement filters on tenant_id, so a note of another
 * tenant is indistinguishable from a missing one (404). Lists are newest first and
 * paginated by an opaque cursor (the last id, base64url-encoded).
 */
#include "apps/notes/notes.h"
#include "core/http.h"
#include "core/page.h"
#include "lib/formats.h"

#include <string.h>

static const cn_migration_t migrations[] = {
    {1, "create_notes",
     "CREATE TABLE notes ("
     " tenant_id TEXT NOT NULL,"
     " id TEXT NOT NULL,"
     " title TEXT NOT NULL,"
     " body TEXT NOT NULL DEFAULT '',"
     " created_at INTEGER NOT NULL,"
     " updated_at INTEGER NOT NULL,"
     " PRIMARY KEY (tenant_id, id))"},
    {0},
};

static const cn_field_t create_fields[] = {
    {"title", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 200,
     .description = "Short title"},
    {"body", CN_T_STRING, .max_len = 100000, .description = "Free text"},
    {0},
};
static const cn_schema_t create_schema = {"NoteCreate", create_fields};

static const cn_field_t update_fields[] = {
    {"title", CN_T_STRING, .min_len = 1, .max_len = 200},
    {"body", CN_T_STRING, .max_len = 100000},
    {0},
};
static const cn_schema_t update_schema = {"NoteUpdate", update_fields};

#define NOTE_COLUMNS "id, title, body, created_at, updated_at"

typedef struct {
    const char *id, *title, *body;
    size_t id_len, title_len, body_len;
    int64_t created_at, updated_at;
} note_t;

static note_t note_from_row(cn_stmt_t *st)
{
    note_t n;
    n.id = cn_stmt_text(st, 0, &n.id_len);
    n.title = cn_stmt_text(st, 1, &n.title_len);
    n.body = cn_stmt_text(st, 2, &n.body_len);
    n.created_at = cn_stmt_int(st, 3);
    n.updated_at = cn_stmt_int(st, 4);
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
    cn_jw_end(w);
}

/* Runs a statement expected to return at most one note row and answers with it. */
static int reply_one(cn_req_t *r, int status, const char *sql, const cn_val_t *args, size_t n)
{
    cn_stmt_t *st;
    int rc = cn_store_query(r->store, sql, args, n, &st, &r->err);
    if (rc != 0)
        return rc;
    rc = cn_stmt_step(st, &r->err);
    if (rc == CN_ROW) {
        cn_jw_t w;
        cn_jw_init(&w, cn_reply_buffer(r));
        note_t note = note_from_row(st);
        write_note(&w, &note);
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    if (rc != CN_ROW)
        return cn_fail(r, CN_ENOTFOUND, "no note with this id");
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
    cn_jw_init(&w, cn_reply_buffer(r));
    write_note(&w, &n);
    return cn_reply_json_buf(r, 201);
}

static int get_note(cn_req_t *r)
{
    cn_val_t args[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(cn_req_param(r, "id"))};
    return reply_one(r, 200, "SELECT " NOTE_COLUMNS " FROM notes WHERE tenant_id = $1 AND id = $2",
                     args, 2);
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
                     args, CN_ARRAY_SIZE(args));
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
    return cn_reply_empty(r, 204);
}

static int list_notes(cn_req_t *r)
{
    cn_page_t page;
    int rc = cn_page_begin(r, &page);
    if (rc != 0)
        return rc;
    /* newest first: "~" sorts after every id, so the first page starts at the top */
    cn_val_t args[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(page.after[0] ? page.after : "~"),
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
    return rc < 0 ? rc : cn_page_send(r, &page);
}

static const cn_route_t routes[] = {
    {CN_POST, "/api/v1/notes", create_note, "notes.write", .body = &create_schema,
     .summary = "Create a note", .success_status = 201},
    {CN_GET, "/api/v1/notes", list_notes, "notes.read", .query = &cn_page_query,
     .summary = "List notes, newest first"},
    {CN_GET, "/api/v1/notes/{id}", get_note, "notes.read", .params = &cn_id_param,
     .summary = "Get a note"},
    {CN_PATCH, "/api/v1/notes/{id}", update_note, "notes.write", .body = &update_schema,
     .params = &cn_id_param, .summary = "Change a note's title or body"},
    {CN_DELETE, "/api/v1/notes/{id}", delete_note, "notes.write", .params = &cn_id_param,
     .summary = "Delete a note", .success_status = 204},
    {0},
};

static const cn_permission_t permissions[] = {
    {"notes.read", "Read notes"},
    {"notes.write", "Create, change and delete notes"},
    {0},
};

const cn_app_t notes_app = {
    .name = "notes",
    .description = "Demo module: tenant-scoped notes",
    .migrations = migrations,
    .routes = routes,
    .permissions = permissions,
};
