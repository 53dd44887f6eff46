/*
 * Signing in and out (see login.h). Password checks run on the worker pool; everything
 * else runs on the loops. Writes that acknowledge a session commit before the answer
 * leaves, like every write (group commit). A session is put in the live-session table as
 * it opens, and a revoked one leaves it at once, so the very next request with its access
 * token is refused on every thread.
 */
#include "auth/login.h"
#include "auth/audit.h"
#include "auth/auth.h"
#include "auth/cookies.h"
#include "auth/lockout.h"
#include "auth/mfa.h"
#include "auth/passwords.h"
#include "auth/refresh.h"
#include "auth/register.h"
#include "core/log.h"
#include "core/workers.h"
#include "lib/formats.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ---- sessions ---- */

/*
 * Answers the token pair. With cookies the tokens travel only as HttpOnly cookies: the
 * body carries no token, so script on the page (or injected into it) never holds one.
 */
int auth_reply_tokens(cn_req_t *r, const auth_claims_t *c, const char *refresh, int cookies,
                      int status)
{
    auth_keys_refresh(r->store);
    char *access = auth_token_issue(c);
    if (access == NULL)
        return cn_fail(r, CN_ERR, "no signing key");
    cn_jw_t w;
    cn_jw_init(&w, cn_reply_buffer(r));
    cn_jw_object(&w);
    if (!cookies) {
        cn_jw_key(&w, "access_token");
        cn_jw_str(&w, access, strlen(access));
        cn_jw_key(&w, "refresh_token");
        cn_jw_str(&w, refresh, strlen(refresh));
    }
    cn_jw_key(&w, "token_type");
    cn_jw_str(&w, "Bearer", 6);
    cn_jw_key(&w, "expires_in");
    cn_jw_int(&w, AUTH_ACCESS_TTL_S);
    cn_jw_end(&w);
    int rc = cookies ? auth_cookies_set(r, access, refresh, c->sid) : 0;
    free(access);
    if (rc != 0)
        return cn_fail(r, CN_ERR, "cannot derive the CSRF token");
    cn_reply_header(r, "cache-control", H2O_STRLIT("no-store"));
    return cn_reply_json_buf(r, status);
}

/* The session is live in memory from now on: its tokens are accepted on every thread. */
void auth_session_live(const auth_claims_t *c, int64_t expires_ms)
{
    auth_session_t live = {.mfa = c->mfa, .expires_s = expires_ms / 1000};
    memcpy(live.sid, c->sid, sizeof(live.sid));
    memcpy(live.tid, c->tid, sizeof(live.tid));
    memcpy(live.sub, c->sub, sizeof(live.sub));
    memcpy(live.role, c->role, sizeof(live.role));
    auth_session_put(&live);
}

void auth_fill_claims(auth_claims_t *c, const char *user, const char *tenant, const char *role,
                      const char *sid, int mfa)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->sub, sizeof(c->sub), "%s", user);
    snprintf(c->tid, sizeof(c->tid), "%s", tenant);
    snprintf(c->role, sizeof(c->role), "%s", role);
    snprintf(c->sid, sizeof(c->sid), "%s", sid);
    c->mfa = mfa;
    c->iat = c->nbf = cn_now_ms() / 1000;
    c->exp = c->iat + AUTH_ACCESS_TTL_S;
}

/* ends_at 0: a new sign-in's full lifetime; else the end of the session this one replaces */
static int open_session(cn_req_t *r, const char *user, const char *tenant, const char *role,
                        int mfa, int64_t ends_at, int status)
{
    char sid[CN_UUID_LEN + 1], refresh[AUTH_REFRESH_MAX], hash[65];
    cn_uuid7(sid);
    auth_refresh_make(sid, 0, refresh, hash);
    int64_t now = cn_now_ms();
    int64_t expires = ends_at > 0 ? ends_at : now + AUTH_REFRESH_TTL_S * 1000LL;
    cn_val_t args[] = {CN_VTEXT(sid),    CN_VTEXT(tenant), CN_VTEXT(user), CN_VINT(now),
                       CN_VINT(expires), CN_VTEXT(hash),   CN_VINT(mfa)};
    int rc =
        cn_store_exec(r->store,
                      "INSERT INTO sessions (id, tenant_id, user_id, created_at, expires_at,"
                      " refresh_gen, refresh_hash, mfa) VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
                      args, 7, NULL, &r->err);
    if (rc != 0)
        return rc;
    auth_claims_t c;
    auth_fill_claims(&c, user, tenant, role, sid, mfa);
    auth_session_live(&c, expires);
    return auth_reply_tokens(r, &c, refresh, json_is_true(json_object_get(r->body, "cookie")),
                             status);
}

static int start_session(cn_req_t *r, const char *user, const char *tenant, const char *role)
{
    return open_session(r, user, tenant, role, 0, 0, 200);
}

static int start_session_after_mfa(cn_req_t *r, const char *user, const char *tenant,
                                   const char *role, int64_t ends_at)
{
    return open_session(r, user, tenant, role, 1, ends_at, 200);
}

/* ---- login: the password check runs on a worker ---- */

typedef struct {
    char *password;
    size_t password_len;
    char hash[AUTH_HASH_LEN];
    int has_account;
    int ok;
    char user[40], tenant[40], role[CN_ROLE_NAME_MAX + 1];
    char key[330];              /* lockout key: tenant slug + "/" + e-mail */
    char rehash[AUTH_HASH_LEN]; /* set when the stored hash used weaker parameters */
} login_t;

static void login_free(login_t *l)
{
    if (l->password) {
        sodium_memzero(l->password, l->password_len);
        free(l->password);
    }
    sodium_memzero(l->hash, sizeof(l->hash));
    sodium_memzero(l->rehash, sizeof(l->rehash));
    free(l);
}

static void login_work(void *arg)
{
    login_t *l = arg;
    l->ok = auth_password_verify(l->has_account ? l->hash : NULL, l->password, l->password_len);
    /* parameters were raised since this hash was made: hash again while we have the password */
    if (l->ok && auth_password_needs_rehash(l->hash) &&
        auth_password_hash(l->password, l->password_len, l->rehash) != 0)
        l->rehash[0] = '\0';
}

static void login_done(cn_req_t *r, void *arg)
{
    login_t *l = arg;
    int rc = 0;
    if (r != NULL) {
        char ip[64];
        cn_req_peer(r, ip, sizeof(ip));
        /* one unit of work in the write transaction: the failure count is read and written
         * with no other sign-in in between, and a success sees every failure recorded so
         * far — guesses sent all at once cannot outrun the lock */
        rc = cn_store_begin(r->store, &r->err);
        if (rc == 0 && !l->ok) {
            cn_log(CN_LOG_WARN, r->request_id, "failed sign-in for %.64s from %s", l->key, ip);
            rc = auth_lockout_fail(r, l->key, ip);
            if (rc == 0)
                rc = auth_security_event(r, l->has_account ? l->tenant : NULL, "anonymous",
                                         "auth.login.failed", l->key, ip, 401);
            if (rc == 0 && (rc = cn_store_commit(r->store, &r->err)) == 0)
                rc = cn_fail(r, CN_EUNAUTH, "the tenant, e-mail or password is wrong");
        } else if (rc == 0 && (rc = auth_lockout_check(r, l->key, ip)) == 0 &&
                   (rc = auth_lockout_succeed(r, l->key, ip)) == 0 &&
                   (rc = auth_security_event(r, l->tenant, l->user, "auth.login", NULL, ip, 200)) ==
                       0 &&
                   (l->rehash[0] == '\0' ||
                    (rc = auth_store_password_hash(r, l->user, l->rehash)) == 0)) {
            int mfa = 0;
            rc = auth_mfa_enabled(r->store, l->user, &r->err, &mfa);
            if (rc == 0) /* with MFA the password only earns a challenge for the code */
                rc = mfa ? auth_mfa_challenge(r, l->user, l->tenant, l->role, 0)
                         : start_session(r, l->user, l->tenant, l->role);
            if (rc == 0)
                rc = cn_store_commit(r->store, &r->err);
        }
        if (rc != 0)
            cn_req_finish_error(r, rc);
    }
    login_free(l);
}

int auth_post_login(cn_req_t *r)
{
    const char *slug = json_string_value(json_object_get(r->body, "tenant"));
    json_t *pw = json_object_get(r->body, "password");
    char email[256];
    auth_email_normalize(json_string_value(json_object_get(r->body, "email")), email,
                         sizeof(email));
    char key[sizeof(((login_t *)0)->key)], ip[64];
    snprintf(key, sizeof(key), "%s/%s", slug, email);
    cn_req_peer(r, ip, sizeof(ip));
    int rc = auth_lockout_check(r, key, ip);
    if (rc != 0)
        return rc;
    login_t *l = cn_calloc(1, sizeof(*l));
    memcpy(l->key, key, sizeof(key));
    l->password_len = json_string_length(pw);
    l->password = cn_strndup(json_string_value(pw), l->password_len);
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VTEXT(slug), CN_VTEXT(email)};
    rc = cn_store_query(r->store,
                        "SELECT u.id, u.password_hash, t.id, m.role FROM users u"
                        " JOIN memberships m ON m.user_id = u.id"
                        " JOIN tenants t ON t.id = m.tenant_id"
                        " WHERE t.slug = $1 AND u.email = $2",
                        args, 2, &st, &r->err);
    if (rc == 0) {
        if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
            snprintf(l->user, sizeof(l->user), "%s", cn_stmt_text(st, 0, NULL));
            snprintf(l->hash, sizeof(l->hash), "%s", cn_stmt_text(st, 1, NULL));
            snprintf(l->tenant, sizeof(l->tenant), "%s", cn_stmt_text(st, 2, NULL));
            snprintf(l->role, sizeof(l->role), "%s", cn_stmt_text(st, 3, NULL));
            l->has_account = 1;
        }
        cn_stmt_finish(st);
    }
    if (rc < 0) {
        login_free(l);
        return rc;
    }
    /* unknown accounts are hashed too (against a dummy): same time, same answer */
    return cn_req_offload(r, login_work, login_done, l);
}

/* ---- self-service registration, where the tenant allows it ---- */

static int reply_registered(cn_req_t *r, const char *tenant, const char *user, const char *role)
{
    char ip[64];
    cn_req_peer(r, ip, sizeof(ip));
    int rc = auth_security_event(r, tenant, user, "auth.register", NULL, ip, 201);
    return rc != 0 ? rc : open_session(r, user, tenant, role, 0, 0, 201);
}

int auth_post_register(cn_req_t *r)
{
    return auth_register(r, reply_registered);
}

int auth_post_register_confirm(cn_req_t *r)
{
    return auth_register_confirm(r, reply_registered);
}

/* ---- the second sign-in step: a TOTP or recovery code ---- */

int auth_post_mfa_verify(cn_req_t *r)
{
    return auth_mfa_verify(r, start_session_after_mfa);
}

/* ---- logout ---- */

int auth_session_end(cn_req_t *r, const char *sid)
{
    cn_val_t args[] = {CN_VTEXT(sid), CN_VINT(cn_now_ms())};
    int rc = cn_store_exec(
        r->store, "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", args,
        2, NULL, &r->err);
    if (rc == 0)
        auth_revoke_session(sid);
    return rc;
}

int auth_need_session(cn_req_t *r)
{
    if (r->principal.session_id[0] == '\0')
        return cn_fail(r, CN_EINVAL, "this credential has no session to sign out");
    return 0;
}

int auth_post_logout(cn_req_t *r)
{
    int rc = auth_need_session(r);
    if (rc == 0)
        rc = auth_session_end(r, r->principal.session_id);
    if (rc != 0)
        return rc;
    auth_cookies_clear(r);
    return cn_reply_empty(r, 204);
}

int auth_post_logout_all(cn_req_t *r)
{
    int rc = auth_need_session(r);
    if (rc != 0)
        return rc;
    cn_val_t args[] = {CN_VTEXT(r->principal.subject), CN_VTEXT(r->principal.tenant_id),
                       CN_VINT(cn_now_ms())};
    int64_t n = 0;
    rc = auth_revoke_sessions(r->store,
                              "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1"
                              " AND tenant_id = $2 AND revoked_at IS NULL RETURNING id",
                              args, 3, &n, &r->err);
    if (rc != 0)
        return rc;
    return cn_reply_json(r, 200, json_pack("{s:I}", "revoked_sessions", (json_int_t)n));
}
