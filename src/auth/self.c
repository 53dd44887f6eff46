/*
 * The caller's own account (see self.h). A password change verifies the current password
 * and hashes the new one on a worker, then ends every other session of the account.
 */
#include "auth/self.h"
#include "auth/auth.h"
#include "auth/login.h"
#include "auth/passwords.h"
#include "auth/sessions.h"
#include "core/workers.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ---- the caller ---- */

int auth_get_me(cn_req_t *r)
{
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VTEXT(r->principal.subject), CN_VTEXT(r->principal.tenant_id)};
    int rc = cn_store_query(r->store,
                            "SELECT u.id, u.email, t.id, t.slug, t.name, m.role FROM users u"
                            " JOIN memberships m ON m.user_id = u.id"
                            " JOIN tenants t ON t.id = m.tenant_id"
                            " WHERE u.id = $1 AND t.id = $2",
                            args, 2, &st, &r->err);
    if (rc != 0)
        return rc;
    json_t *me = NULL;
    if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW)
        me = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "id", cn_stmt_text(st, 0, NULL),
                       "email", cn_stmt_text(st, 1, NULL), "role", cn_stmt_text(st, 5, NULL),
                       "tenant", "id", cn_stmt_text(st, 2, NULL), "slug", cn_stmt_text(st, 3, NULL),
                       "name", cn_stmt_text(st, 4, NULL));
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    if (me == NULL)
        return cn_fail(r, CN_ENOTFOUND, "no user behind this credential");
    return cn_reply_json(r, 200, me);
}

/*
 * The caller's session as the server checked it: the live-session table's tenant, user,
 * role and MFA flag, with no read of the database. A page asks it to learn whether (and
 * as whom) it is signed in, as its script holds no token to decode.
 */
int auth_get_session(cn_req_t *r)
{
    const cn_principal_t *p = &r->principal;
    if (p->session_id[0] == '\0')
        return cn_fail(r, CN_ENOTFOUND, "this credential has no session");
    cn_jw_t w;
    cn_jw_init(&w, cn_reply_buffer(r));
    cn_jw_object(&w);
    const char *names[] = {"session_id", "tenant_id", "user_id", "role"};
    const char *values[] = {p->session_id, p->tenant_id, p->subject, p->role};
    for (size_t i = 0; i < 4; i++) {
        cn_jw_key(&w, names[i]);
        cn_jw_str(&w, values[i], strlen(values[i]));
    }
    cn_jw_key(&w, "mfa");
    cn_jw_bool(&w, p->mfa);
    cn_jw_end(&w);
    cn_reply_header(r, "cache-control", H2O_STRLIT("no-store"));
    return cn_reply_json_buf(r, 200);
}

/* ---- password change: verify the current one and hash the new one on a worker ---- */

typedef struct {
    char *current, *next;
    size_t current_len, next_len;
    char stored[AUTH_HASH_LEN], fresh[AUTH_HASH_LEN];
    int ok;
    char user[64], tenant[64], sid[40];
} pwchange_t;

static void pwchange_free(pwchange_t *p)
{
    sodium_memzero(p->current, p->current_len);
    sodium_memzero(p->next, p->next_len);
    free(p->current);
    free(p->next);
    sodium_memzero(p, sizeof(*p));
    free(p);
}

static void pwchange_work(void *arg)
{
    pwchange_t *p = arg;
    p->ok = auth_password_verify(p->stored, p->current, p->current_len) &&
            auth_password_hash(p->next, p->next_len, p->fresh) == 0;
}

static void pwchange_done(cn_req_t *r, void *arg)
{
    pwchange_t *p = arg;
    if (r != NULL) {
        int rc = p->ok ? 0 : cn_fail(r, CN_EUNAUTH, "the current password is wrong");
        cn_val_t args[] = {CN_VTEXT(p->user), CN_VTEXT(p->sid), CN_VINT(cn_now_ms())};
        if (rc == 0 && (rc = auth_store_password_hash(r, p->user, p->fresh)) == 0)
            /* every other session of the user, in every tenant, ends now */
            rc = auth_revoke_sessions(r->store,
                                      "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1"
                                      " AND id <> $2 AND revoked_at IS NULL RETURNING id",
                                      args, 3, NULL, &r->err);
        if (rc == 0) {
            char ip[64];
            cn_req_peer(r, ip, sizeof(ip));
            rc = auth_security_event(r, p->tenant, p->user, "auth.password.changed", p->user, ip,
                                     204);
        }
        if (rc == 0)
            cn_reply_empty(r, 204);
        else
            cn_req_finish_error(r, rc);
    }
    pwchange_free(p);
}

int auth_post_password(cn_req_t *r)
{
    int rc = auth_need_session(r);
    if (rc != 0)
        return rc;
    json_t *cur = json_object_get(r->body, "current_password");
    json_t *next = json_object_get(r->body, "new_password");
    pwchange_t *p = cn_calloc(1, sizeof(*p));
    snprintf(p->user, sizeof(p->user), "%s", r->principal.subject);
    snprintf(p->tenant, sizeof(p->tenant), "%s", r->principal.tenant_id);
    snprintf(p->sid, sizeof(p->sid), "%s", r->principal.session_id);
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VTEXT(p->user)};
    char email[256] = "";
    rc = cn_store_query(r->store, "SELECT password_hash, email FROM users WHERE id = $1", args, 1,
                        &st, &r->err);
    if (rc == 0) {
        if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
            snprintf(p->stored, sizeof(p->stored), "%s", cn_stmt_text(st, 0, NULL));
            snprintf(email, sizeof(email), "%s", cn_stmt_text(st, 1, NULL));
        }
        cn_stmt_finish(st);
        rc = rc == CN_ROW ? 0
             : rc < 0     ? rc
                          : cn_fail(r, CN_ENOTFOUND, "no user behind this session");
    }
    const char *weak =
        rc == 0 ? auth_password_policy(json_string_value(next), json_string_length(next), email)
                : NULL;
    if (rc != 0 || weak != NULL) {
        pwchange_free(p);
        return rc != 0 ? rc : cn_fail_field(r, "new_password", weak);
    }
    p->current_len = json_string_length(cur);
    p->current = cn_strndup(json_string_value(cur), p->current_len);
    p->next_len = json_string_length(next);
    p->next = cn_strndup(json_string_value(next), p->next_len);
    return cn_req_offload(r, pwchange_work, pwchange_done, p);
}
