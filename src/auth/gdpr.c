/*
 * GDPR (see gdpr.h): export everything held about the caller; erase the account. The
 * erasure is one unit of work; its own audit entry names no one.
 */
#include "auth/gdpr.h"
#include "auth/audit.h"
#include "auth/sessions.h"

#include <string.h>

/* Runs sql and returns its rows as an array of objects named by cols (NULL on error). */
static json_t *rows_json(cn_req_t *r, const char *sql, const cn_val_t *args, size_t n,
                         const char *const *cols)
{
    cn_stmt_t *st;
    if (cn_store_query(r->store, sql, args, n, &st, &r->err) != 0)
        return NULL;
    json_t *rows = json_array();
    int rc;
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        json_t *row = json_object();
        for (int c = 0; cols[c] != NULL; c++) {
            size_t len;
            const char *t = cn_stmt_text(st, c, &len);
            size_t cl = strlen(cols[c]);
            int is_int = (cl > 3 && strcmp(cols[c] + cl - 3, "_at") == 0) ||
                         strcmp(cols[c], "seq") == 0 || strcmp(cols[c], "status") == 0;
            json_object_set_new(row, cols[c],
                                t == NULL ? json_null()
                                : is_int  ? json_integer(cn_stmt_int(st, c))
                                          : json_stringn(t, len));
        }
        json_array_append_new(rows, row);
    }
    cn_stmt_finish(st);
    if (rc < 0) {
        json_decref(rows);
        return NULL;
    }
    return rows;
}

int auth_get_export(cn_req_t *r)
{
    cn_val_t me[] = {CN_VTEXT(r->principal.subject)};
    static const char *const user_cols[] = {"id", "email", "created_at", "updated_at", NULL};
    static const char *const member_cols[] = {"tenant_id", "tenant_slug", "role", "created_at",
                                              NULL};
    static const char *const session_cols[] = {"id",         "tenant_id",  "created_at",
                                               "expires_at", "revoked_at", NULL};
    static const char *const key_cols[] = {"id",           "tenant_id",  "name",
                                           "scopes",       "created_at", "expires_at",
                                           "last_used_at", "revoked_at", NULL};
    static const char *const audit_cols[] = {
        "seq", "tenant_id", "action", "object", "ip", "request_id", "status", "recorded_at", NULL};
    char creator[64];
    snprintf(creator, sizeof(creator), "%s", r->principal.subject);
    cn_val_t by[] = {CN_VTEXT(creator)};
    json_t *parts[5] = {
        rows_json(r, "SELECT id, email, created_at, updated_at FROM users WHERE id = $1", me, 1,
                  user_cols),
        rows_json(r,
                  "SELECT m.tenant_id, t.slug, m.role, m.created_at FROM memberships m"
                  " JOIN tenants t ON t.id = m.tenant_id WHERE m.user_id = $1",
                  me, 1, member_cols),
        rows_json(r,
                  "SELECT id, tenant_id, created_at, expires_at, revoked_at FROM sessions"
                  " WHERE user_id = $1 ORDER BY created_at",
                  me, 1, session_cols),
        rows_json(r,
                  "SELECT id, tenant_id, name, scopes, created_at, expires_at, last_used_at,"
                  " revoked_at FROM api_keys WHERE created_by = $1",
                  by, 1, key_cols),
        rows_json(r,
                  "SELECT seq, tenant_id, action, object, ip, request_id, status, at"
                  " FROM audit_log WHERE actor = $1 ORDER BY seq",
                  me, 1, audit_cols),
    };
    for (int i = 0; i < 5; i++)
        if (parts[i] == NULL) {
            for (int k = 0; k < 5; k++)
                json_decref(parts[k]);
            return CN_ERR;
        }
    json_t *user = json_incref(json_array_get(parts[0], 0));
    json_decref(parts[0]);
    cn_reply_header(r, "cache-control", H2O_STRLIT("no-store"));
    cn_reply_header(r, "content-disposition",
                    H2O_STRLIT("attachment; filename=\"cairn-export.json\""));
    return cn_reply_json(r, 200,
                         json_pack("{s:o, s:o, s:o, s:o, s:o, s:I}", "user", user, "memberships",
                                   parts[1], "sessions", parts[2], "api_keys_created", parts[3],
                                   "audit_entries", parts[4], "exported_at",
                                   (json_int_t)cn_now_ms()));
}

int auth_delete_me(cn_req_t *r)
{
    const char *user = r->principal.subject;
    char email[256] = "";
    cn_val_t me[] = {CN_VTEXT(user)};
    int rc = cn_store_begin(r->store, &r->err);
    if (rc == 0) {
        rc = cn_store_one_text(r->store, "SELECT email FROM users WHERE id = $1", me, 1, email,
                               sizeof(email), &r->err);
        if (rc == CN_ENOTFOUND)
            rc = cn_fail(r, CN_ENOTFOUND, "no user behind this session");
    }
    if (rc == 0) /* sessions: revoke in memory first; the rows go below */
        rc = auth_revoke_sessions(r->store, "SELECT id FROM sessions WHERE user_id = $1", me, 1,
                                  NULL, &r->err);
    static const char *const erase[] = {
        "DELETE FROM sessions WHERE user_id = $1",
        "DELETE FROM mfa_challenges WHERE user_id = $1",
        "DELETE FROM mfa_recovery WHERE user_id = $1",
        "DELETE FROM mfa WHERE user_id = $1",
        "DELETE FROM memberships WHERE user_id = $1",
        "UPDATE api_keys SET created_by = 'erased' WHERE created_by = $1",
        "DELETE FROM users WHERE id = $1",
    };
    for (size_t i = 0; rc == 0 && i < CN_ARRAY_SIZE(erase); i++)
        rc = cn_store_exec(r->store, erase[i], me, 1, NULL, &r->err);
    if (rc == 0) { /* exact keys: an e-mail may hold LIKE wildcards ('%', '_') */
        cn_val_t key[] = {CN_VTEXT(email)};
        rc = cn_store_exec(r->store,
                           "DELETE FROM login_failures WHERE account IN"
                           " (SELECT slug || '/' || $1 FROM tenants)",
                           key, 1, NULL, &r->err);
        if (rc == 0) /* pending registrations of the address */
            rc = cn_store_exec(r->store, "DELETE FROM registrations WHERE email = $1", key, 1, NULL,
                               &r->err);
    }
    if (rc == 0)
        rc = auth_audit_erase(r->store, user, email, &r->err);
    if (rc == 0)
        rc = cn_store_commit(r->store, &r->err);
    if (rc != 0)
        return rc;
    /* the audit entry for this very request must not name the person either */
    snprintf(r->principal.subject, sizeof(r->principal.subject), "erased");
    return cn_reply_empty(r, 204);
}
