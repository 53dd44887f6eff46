/*
 * auth module (see auth.h). Password checks run on the worker pool; everything else runs
 * on the loops. Writes that acknowledge a session (login, refresh) commit before the
 * answer leaves, like every write (group commit). A revoked session is put in the
 * in-memory set at once, so the very next request with its access token is refused on
 * every thread.
 */
#include "auth/auth.h"
#include "auth/apikeys.h"
#include "auth/audit.h"
#include "auth/answers.h"
#include "auth/cookies.h"
#include "auth/lockout.h"
#include "auth/members.h"
#include "auth/mfa.h"
#include "auth/passwords.h"
#include "auth/rbac.h"
#include "auth/register.h"
#include "auth/reset.h"
#include "auth/settings.h"
#include "auth/tokens.h"
#include "auth/vault.h"
#include "core/http.h"
#include "core/page.h"
#include "core/log.h"
#include "core/workers.h"
#include "lib/formats.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const cn_migration_t migrations[] = {
    {1, "create_identity",
     "CREATE TABLE tenants ("
     " id TEXT PRIMARY KEY, slug TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
     " created_at INTEGER NOT NULL);"
     "CREATE TABLE users ("
     " id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,"
     " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
     "CREATE TABLE memberships ("
     " tenant_id TEXT NOT NULL REFERENCES tenants(id),"
     " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
     " role TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (tenant_id, user_id));"
     "CREATE INDEX memberships_user ON memberships (user_id);"
     "CREATE TABLE sessions ("
     " id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL,"
     " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, revoked_at INTEGER);"
     "CREATE INDEX sessions_user ON sessions (user_id, tenant_id);"
     "CREATE INDEX sessions_revoked ON sessions (revoked_at);"
     "CREATE TABLE refresh_tokens ("
     " token_hash TEXT PRIMARY KEY,"
     " session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
     " created_at INTEGER NOT NULL, rotated_at INTEGER);"
     "CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);"
     "CREATE TABLE signing_keys ("
     " kid TEXT PRIMARY KEY, secret TEXT NOT NULL, created_at INTEGER NOT NULL)"},
    {2, "create_login_failures",
     /* keyed by tenant slug + e-mail, so unknown accounts lock exactly like real ones */
     "CREATE TABLE login_failures ("
     " key TEXT PRIMARY KEY, failures INTEGER NOT NULL, window_start INTEGER NOT NULL,"
     " lockouts INTEGER NOT NULL, locked_until INTEGER NOT NULL)"},
    {3, "refresh_in_session",
     /* one row per session instead of per token: a rotation updates that row in place */
     "DROP TABLE refresh_tokens;"
     "ALTER TABLE sessions ADD COLUMN refresh_gen INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE sessions ADD COLUMN refresh_hash TEXT NOT NULL DEFAULT ''"},
    {4, "create_api_keys", auth_apikeys_sql},
    {5, "create_audit_log", auth_audit_sql},
    {6, "refresh_history",
     /* hashes of the last generations: only a token really issued can prove reuse */
     "ALTER TABLE sessions ADD COLUMN refresh_prev TEXT NOT NULL DEFAULT ''"},
    {7, "create_mfa", auth_mfa_sql},
    {8, "create_roles", auth_roles_sql},
    {9, "tenant_policy",
     "ALTER TABLE tenants ADD COLUMN mfa_required_for_admins INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE sessions ADD COLUMN mfa INTEGER NOT NULL DEFAULT 0"},
    {10, "audit_without_prev_hash",
     /* the previous entry's hash is that row's own: storing it again cost a sixth of
      * every entry's bytes, and verification recomputes the links anyway */
     "ALTER TABLE audit_log DROP COLUMN prev_hash"},
    {11, "tenant_registration",
     "ALTER TABLE tenants ADD COLUMN allow_registration INTEGER NOT NULL DEFAULT 0"},
    {12, "password_resets", auth_reset_migration_sql},
    {13, "login_failures_per_ip", auth_lockout_migration_sql},
    {14, "registration_confirmation", auth_register_migration_sql},
    {15, "signing_key_retirement",
     /* a retired key verifies until verify_until (NULL: not retired), then never again */
     "ALTER TABLE signing_keys ADD COLUMN retired_at INTEGER;"
     "ALTER TABLE signing_keys ADD COLUMN verify_until INTEGER"},
    {16, "registration_password_at_confirm", auth_register_mail_at_sql},
    {17, "login_failures_known_clients", auth_lockout_known_sql},
    {0},
};

/* ---- hooks the router calls ---- */

/* The problem type of a refused access token: what its client can do about it. */
static const char *token_problem(const char *why)
{
    if (why == auth_why_token_expired || why == auth_why_key_retired)
        return "token-expired"; /* the session goes on: refresh */
    if (why == auth_why_signed_out || why == auth_why_session_expired)
        return "token-revoked"; /* the session is over: sign in again */
    if (why == auth_why_session_unchecked)
        return NULL; /* says nothing about the token: the status's own type */
    return "token-invalid";
}

/* Verifies an access token and checks it against its live session; fills the principal. */
static int authenticate_token(cn_req_t *r, const char *token, size_t len)
{
    auth_claims_t c;
    const char *why;
    /* the time the request came in (h2o took it already): no clock read per request */
    int64_t now = r->h->processed_at.at.tv_sec;
    if (now <= 0)
        now = cn_now_ms() / 1000;
    if (auth_token_verify(token, len, now, r->store, &c, &why) != 0 ||
        auth_session_check(r->store, &c, now, &why) != 0)
        return cn_fail_typed(r, CN_EUNAUTH, token_problem(why), "%s", why);
    cn_principal_t *p = &r->principal;
    memcpy(p->tenant_id, c.tid, sizeof(c.tid));
    memcpy(p->subject, c.sub, sizeof(c.sub));
    memcpy(p->session_id, c.sid, sizeof(c.sid));
    memcpy(p->role, c.role, sizeof(c.role)); /* the session's role (auth_session_check) */
    p->mfa = c.mfa;
    p->authenticated = 1;
    return 0;
}

static int authenticate(cn_req_t *r)
{
    h2o_iovec_t v = cn_req_header(r, "authorization");
    h2o_iovec_t k = cn_req_header(r, "x-api-key");
    if (k.len == 0 && v.len > 7 && strncasecmp(v.base, "Bearer ", 7) == 0)
        k = h2o_iovec_init(v.base + 7, v.len - 7);
    if (auth_is_api_key(k.base ? k.base : "", k.len))
        return auth_api_key_authenticate(r, k.base, k.len);
    if (v.len > 7 && strncasecmp(v.base, "Bearer ", 7) == 0 && memchr(v.base + 7, '.', v.len - 7))
        return authenticate_token(r, v.base + 7, v.len - 7);
    if (v.len == 0) { /* a browser: the session cookie, with CSRF on unsafe methods */
        char cookie_token[1024];
        h2o_iovec_t ck = cn_req_header(r, "cookie");
        long n = ck.len ? auth_cookie_get(ck.base, ck.len, AUTH_COOKIE_ACCESS, cookie_token,
                                          sizeof(cookie_token))
                        : -1;
        if (n > 0) {
            int rc = authenticate_token(r, cookie_token, (size_t)n);
            if (rc == 0 && r->method != CN_GET && r->method != CN_HEAD &&
                r->method != CN_OPTIONS) /* the CSRF token is bound to this very session */
                rc = auth_csrf_check(r, r->principal.session_id);
            if (rc != 0)
                r->principal.authenticated = 0;
            return rc;
        }
    }
    return cn_auth_bootstrap(r); /* the operator's token, until API keys replace it */
}

static int tenant_requires_mfa(cn_req_t *r)
{
    cn_stmt_t *st;
    cn_err_t err;
    cn_val_t args[] = {CN_VTEXT(r->principal.tenant_id)};
    if (cn_store_query(r->store, "SELECT mfa_required_for_admins FROM tenants WHERE id = $1", args,
                       1, &st, &err) != 0)
        return 1; /* cannot tell: the stricter answer */
    int required = cn_stmt_step(st, &err) == CN_ROW && cn_stmt_int(st, 0) != 0;
    cn_stmt_finish(st);
    return required;
}

static int authorize(cn_req_t *r, const char *permission)
{
    if (!auth_caller_holds(r, permission))
        return CN_EFORBIDDEN;
    /* tenant policy: owners and admins without a second factor may only tend to themselves
     * (enrol MFA, sign out) until they sign in with one */
    const cn_principal_t *p = &r->principal;
    if (!p->is_key && !p->mfa && strncmp(permission, "self.", 5) != 0 &&
        (strcmp(p->role, "owner") == 0 || strcmp(p->role, "admin") == 0) && tenant_requires_mfa(r))
        return cn_fail_typed(r, CN_EFORBIDDEN, "mfa-required",
                             "this tenant requires MFA for owners and admins: enrol "
                             "(POST /api/v1/auth/mfa/enroll) and sign in again");
    return 0;
}

/* ---- sessions ---- */

/*
 * Answers the token pair. With cookies the tokens travel only as HttpOnly cookies: the
 * body carries no token, so script on the page (or injected into it) never holds one.
 */
static int reply_tokens(cn_req_t *r, const auth_claims_t *c, const char *refresh, int cookies,
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
static void session_live(const auth_claims_t *c, int64_t expires_ms)
{
    auth_session_t live = {.mfa = c->mfa, .expires_s = expires_ms / 1000};
    memcpy(live.sid, c->sid, sizeof(live.sid));
    memcpy(live.tid, c->tid, sizeof(live.tid));
    memcpy(live.sub, c->sub, sizeof(live.sub));
    memcpy(live.role, c->role, sizeof(live.role));
    auth_session_put(&live);
}

static void fill_claims(auth_claims_t *c, const char *user, const char *tenant, const char *role,
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

/*
 * A refresh token is "<session id>.<generation>.<secret>". The session row keeps the
 * current generation and the SHA-256 of its secret; rotating bumps both in place. An
 * older generation coming back means a copy was kept somewhere: the session is revoked.
 */
#define REFRESH_MAX 128

static void make_refresh(const char *sid, int64_t gen, char token[REFRESH_MAX], char hash[65])
{
    char secret[48];
    auth_refresh_new(secret, hash);
    snprintf(token, REFRESH_MAX, "%s.%lld.%s", sid, (long long)gen, secret);
    sodium_memzero(secret, sizeof(secret));
}

/* Splits a presented token; 0 when it has the right shape. */
static int parse_refresh(const char *tok, size_t len, char sid[40], int64_t *gen, char hash[65])
{
    const char *d1 = len > CN_UUID_LEN ? tok + CN_UUID_LEN : NULL;
    if (d1 == NULL || *d1 != '.' || !cn_is_uuid(tok, CN_UUID_LEN))
        return -1;
    char *end;
    long long g = strtoll(d1 + 1, &end, 10);
    if (end == d1 + 1 || *end != '.' || g < 0 || !isdigit((unsigned char)d1[1]))
        return -1;
    memcpy(sid, tok, CN_UUID_LEN);
    sid[CN_UUID_LEN] = '\0';
    *gen = g;
    auth_refresh_hash(end + 1, len - (size_t)(end + 1 - tok), hash);
    return 0;
}

static int open_session(cn_req_t *r, const char *user, const char *tenant, const char *role,
                        int mfa, int status)
{
    char sid[CN_UUID_LEN + 1], refresh[REFRESH_MAX], hash[65];
    cn_uuid7(sid);
    make_refresh(sid, 0, refresh, hash);
    int64_t now = cn_now_ms();
    cn_val_t args[] = {CN_VTEXT(sid),
                       CN_VTEXT(tenant),
                       CN_VTEXT(user),
                       CN_VINT(now),
                       CN_VINT(now + AUTH_REFRESH_TTL_S * 1000LL),
                       CN_VTEXT(hash),
                       CN_VINT(mfa)};
    int rc =
        cn_store_exec(r->store,
                      "INSERT INTO sessions (id, tenant_id, user_id, created_at, expires_at,"
                      " refresh_gen, refresh_hash, mfa) VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
                      args, 7, NULL, &r->err);
    if (rc != 0)
        return rc;
    auth_claims_t c;
    fill_claims(&c, user, tenant, role, sid, mfa);
    session_live(&c, now + AUTH_REFRESH_TTL_S * 1000LL);
    return reply_tokens(r, &c, refresh, json_is_true(json_object_get(r->body, "cookie")), status);
}

static int start_session(cn_req_t *r, const char *user, const char *tenant, const char *role)
{
    return open_session(r, user, tenant, role, 0, 200);
}

static int start_session_after_mfa(cn_req_t *r, const char *user, const char *tenant,
                                   const char *role)
{
    return open_session(r, user, tenant, role, 1, 200);
}

/* ---- login: the password check runs on a worker ---- */

typedef struct {
    char *password;
    size_t password_len;
    char hash[AUTH_HASH_LEN];
    int has_account;
    int ok;
    char user[40], tenant[40], role[32];
    char key[330];              /* lockout key: tenant slug + "/" + e-mail */
    char rehash[AUTH_HASH_LEN]; /* set when the stored hash used weaker parameters */
} login_t;

int auth_security_event(cn_req_t *r, const char *tenant, const char *actor, const char *action,
                        const char *object, const char *ip, int status)
{
    auth_audit_t e = {tenant, actor, action, object, ip, r->request_id, status};
    return auth_audit_append(r->store, &e, &r->err);
}

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

int auth_set_password_hash(cn_store_t *s, const char *user, const char *hash, cn_err_t *err)
{
    cn_val_t args[] = {CN_VTEXT(user), CN_VTEXT(hash), CN_VINT(cn_now_ms())};
    return cn_store_exec(s, "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
                         args, 3, NULL, err);
}

int auth_store_password_hash(cn_req_t *r, const char *user, const char *hash)
{
    return auth_set_password_hash(r->store, user, hash, &r->err);
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
                rc = mfa ? auth_mfa_challenge(r, l->user, l->tenant, l->role)
                         : start_session(r, l->user, l->tenant, l->role);
            if (rc == 0)
                rc = cn_store_commit(r->store, &r->err);
        }
        if (rc != 0)
            cn_req_finish_error(r, rc);
    }
    login_free(l);
}

void auth_email_normalize(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

static int post_login(cn_req_t *r)
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
    return rc != 0 ? rc : open_session(r, user, tenant, role, 0, 201);
}

static int post_register(cn_req_t *r)
{
    return auth_register(r, reply_registered);
}

static int post_register_confirm(cn_req_t *r)
{
    return auth_register_confirm(r, reply_registered);
}

/* ---- refresh: rotate, and treat reuse of a rotated token as theft ---- */

static int revoke_session(cn_req_t *r, const char *sid)
{
    cn_val_t args[] = {CN_VTEXT(sid), CN_VINT(cn_now_ms())};
    int rc = cn_store_exec(
        r->store, "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", args,
        2, NULL, &r->err);
    if (rc == 0)
        auth_revoke_session(sid);
    return rc;
}

#define REFRESH_HISTORY 8

typedef struct {
    char tenant[40], user[40], role[32], hash[65];
    char prev[REFRESH_HISTORY * 65]; /* earlier generations' hashes, newest first */
    int64_t gen, expires_ms;
    int mfa;
    int revoked, expired;
} refresh_row_t;

/* 1 when hash is the recorded hash of generation gen (older than the current one). */
static int was_issued(const refresh_row_t *row, int64_t gen, const char *hash)
{
    int64_t back = row->gen - gen; /* 1 = the generation just before the current one */
    if (back < 1 || back > REFRESH_HISTORY || strlen(row->prev) < (size_t)back * 65 - 1)
        return 0;
    return sodium_memcmp(row->prev + (back - 1) * 65, hash, 64) == 0;
}

static int find_session(cn_req_t *r, const char *sid, refresh_row_t *row)
{
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VTEXT(sid)};
    int rc =
        cn_store_query(r->store,
                       "SELECT s.tenant_id, s.user_id, m.role, s.refresh_gen, s.refresh_hash,"
                       " s.revoked_at, s.expires_at, s.refresh_prev, s.mfa FROM sessions s"
                       " JOIN memberships m ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id"
                       " WHERE s.id = $1",
                       args, 1, &st, &r->err);
    if (rc != 0)
        return rc;
    rc = cn_stmt_step(st, &r->err);
    if (rc == CN_ROW) {
        snprintf(row->tenant, sizeof(row->tenant), "%s", cn_stmt_text(st, 0, NULL));
        snprintf(row->user, sizeof(row->user), "%s", cn_stmt_text(st, 1, NULL));
        snprintf(row->role, sizeof(row->role), "%s", cn_stmt_text(st, 2, NULL));
        row->gen = cn_stmt_int(st, 3);
        snprintf(row->hash, sizeof(row->hash), "%s", cn_stmt_text(st, 4, NULL));
        row->revoked = !cn_stmt_is_null(st, 5);
        row->expires_ms = cn_stmt_int(st, 6);
        row->expired = row->expires_ms <= cn_now_ms();
        snprintf(row->prev, sizeof(row->prev), "%s", cn_stmt_text(st, 7, NULL));
        row->mfa = (int)cn_stmt_int(st, 8);
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : rc == CN_ROW ? 0 : CN_ENOTFOUND;
}

static int post_refresh(cn_req_t *r)
{
    json_t *tok = json_object_get(r->body, "refresh_token");
    char sid[40], hash[65], fresh[REFRESH_MAX], fresh_hash[65], from_cookie[REFRESH_MAX];
    const char *presented = json_string_value(tok);
    size_t presented_len = json_string_length(tok);
    int64_t gen;
    refresh_row_t row;
    if (presented == NULL) { /* a browser: the refresh cookie, guarded by the CSRF token */
        h2o_iovec_t ck = cn_req_header(r, "cookie");
        long n = ck.len ? auth_cookie_get(ck.base, ck.len, AUTH_COOKIE_REFRESH, from_cookie,
                                          sizeof(from_cookie))
                        : -1;
        if (n <= 0)
            return cn_fail(r, CN_EUNAUTH, "give refresh_token, or send the session cookies");
        presented = from_cookie;
        presented_len = (size_t)n;
    }
    if (parse_refresh(presented, presented_len, sid, &gen, hash) != 0)
        return cn_fail(r, CN_EUNAUTH, "the refresh token is not valid");
    /* the CSRF token is the one derived from the refresh cookie's own session */
    if (presented == from_cookie && auth_csrf_check(r, sid) != 0)
        return CN_EFORBIDDEN;
    int rc = cn_store_begin(r->store, &r->err);
    if (rc == 0)
        rc = find_session(r, sid, &row);
    if (rc == CN_ENOTFOUND)
        return cn_fail(r, CN_EUNAUTH, "the refresh token is not valid");
    if (rc != 0)
        return rc;
    if (row.revoked) /* perhaps by another process: this one's memory learns it now */
        auth_revoke_session(sid);
    if (row.revoked || row.expired)
        return cn_fail(r, CN_EUNAUTH, "the session has ended; sign in again");
    /* an already-rotated token came back: someone holds a copy. The session id is no
     * secret, so only a token that was really issued (its hash is on record) counts. */
    if (gen < row.gen && was_issued(&row, gen, hash)) {
        char ip[64];
        cn_req_peer(r, ip, sizeof(ip));
        if ((rc = revoke_session(r, sid)) != 0 ||
            (rc = auth_security_event(r, row.tenant, row.user, "auth.refresh.reused", sid, ip,
                                      401)) != 0 ||
            (rc = cn_store_commit(r->store, &r->err)) != 0)
            return rc;
        return cn_fail(r, CN_EUNAUTH,
                       "this refresh token was already used; the session is revoked");
    }
    if (gen != row.gen || strlen(row.hash) != 64 || sodium_memcmp(hash, row.hash, 64) != 0)
        return cn_fail(r, CN_EUNAUTH, "the refresh token is not valid");
    make_refresh(sid, gen + 1, fresh, fresh_hash);
    char prev[sizeof(row.prev)]; /* the current hash joins the history, the oldest leaves */
    snprintf(prev, sizeof(prev), "%s%s%.*s", row.hash, row.prev[0] ? "," : "",
             (int)((REFRESH_HISTORY - 1) * 65 - 1), row.prev);
    cn_val_t args[] = {CN_VTEXT(sid), CN_VINT(gen), CN_VTEXT(fresh_hash), CN_VTEXT(prev)};
    int64_t changes = 0;
    rc = cn_store_exec(r->store,
                       "UPDATE sessions SET refresh_gen = $2 + 1, refresh_hash = $3,"
                       " refresh_prev = $4 WHERE id = $1 AND refresh_gen = $2",
                       args, 4, &changes, &r->err);
    if (rc == 0 && changes != 1)
        rc = cn_fail(r, CN_EUNAUTH, "the refresh token is not valid");
    if (rc == 0)
        rc = cn_store_commit(r->store, &r->err);
    if (rc != 0)
        return rc;
    auth_claims_t c;
    fill_claims(&c, row.user, row.tenant, row.role, sid, row.mfa);
    session_live(&c, row.expires_ms);
    return reply_tokens(r, &c, fresh, presented == from_cookie, 200);
}

/* ---- logout ---- */

static int need_session(cn_req_t *r)
{
    if (r->principal.session_id[0] == '\0')
        return cn_fail(r, CN_EINVAL, "this credential has no session to sign out");
    return 0;
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

static int post_password(cn_req_t *r)
{
    int rc = need_session(r);
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

static int post_mfa_verify(cn_req_t *r)
{
    return auth_mfa_verify(r, start_session_after_mfa);
}

static int post_logout(cn_req_t *r)
{
    int rc = need_session(r);
    if (rc == 0)
        rc = revoke_session(r, r->principal.session_id);
    if (rc != 0)
        return rc;
    auth_cookies_clear(r);
    return cn_reply_empty(r, 204);
}

static int post_logout_all(cn_req_t *r)
{
    int rc = need_session(r);
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

/* ---- the caller ---- */

static int get_me(cn_req_t *r)
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
static int get_session(cn_req_t *r)
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

/* ---- GDPR: export everything held about the caller; erase the account ---- */

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

static int get_export(cn_req_t *r)
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

static int delete_me(cn_req_t *r)
{
    const char *user = r->principal.subject;
    char email[256] = "";
    cn_stmt_t *st;
    cn_val_t me[] = {CN_VTEXT(user)};
    int rc = cn_store_begin(r->store, &r->err);
    if (rc == 0 && (rc = cn_store_query(r->store, "SELECT email FROM users WHERE id = $1", me, 1,
                                        &st, &r->err)) == 0) {
        if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW)
            snprintf(email, sizeof(email), "%s", cn_stmt_text(st, 0, NULL));
        cn_stmt_finish(st);
        rc = rc == CN_ROW ? 0
             : rc < 0     ? rc
                          : cn_fail(r, CN_ENOTFOUND, "no user behind this session");
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

/* ---- tables ---- */

static const cn_field_t login_fields[] = {
    {"tenant", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 64,
     .description = "Tenant slug"},
    {"email", CN_T_STRING, .required = 1, .format = CN_FMT_EMAIL},
    {"password", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 1024},
    {"cookie", CN_T_BOOLEAN, .description = "also set the session cookies (browsers)"},
    {0},
};
static const cn_schema_t login_schema = {"LoginRequest", login_fields};

static const cn_field_t refresh_fields[] = {
    {"refresh_token", CN_T_STRING, .min_len = 1, .max_len = REFRESH_MAX,
     .description = "omit to use the cairn_rt cookie (then X-CSRF-Token is required)"},
    {0},
};
static const cn_schema_t refresh_schema = {"RefreshRequest", refresh_fields};

static const cn_field_t password_fields[] = {
    {"current_password", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 1024},
    {"new_password", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 1024},
    {0},
};
static const cn_schema_t password_schema = {"PasswordChange", password_fields};

static const cn_route_t routes[] = {
    {CN_POST, "/api/v1/auth/login", post_login, .body = &login_schema,
     .summary = "Sign in: tokens for a tenant, e-mail and password", .rate_auth = 1,
     .response = &auth_login_answer, .errors = CN_ANS_401 | CN_ANS_403, .operation = "auth.login"},
    {CN_POST, "/api/v1/auth/register", post_register, .body = &auth_register_schema,
     .summary = "Register in a tenant that allows it: 202 and a confirmation mail where the "
                "tenant requires confirmation (no password: it is chosen when confirming), else "
                "201 with tokens",
     .rate_auth = 1, .success_status = 201, .response = &auth_tokens_answer,
     .also = auth_register_also, .errors = CN_ANS_403 | CN_ANS_409, .operation = "auth.register"},
    {CN_POST, "/api/v1/auth/register/confirm", post_register_confirm,
     .body = &auth_register_confirm_schema, .rate_auth = 1, .success_status = 201,
     .summary = "Spend a mailed registration token with a password: 201 with tokens for a "
                "new account (the password is its own), 200 when an existing account joined "
                "(the password is that account's)",
     .response = &auth_tokens_answer, .also = auth_confirm_also, .errors = CN_ANS_401,
     .operation = "auth.confirmRegistration"},
    {CN_POST, "/api/v1/auth/refresh", post_refresh, .body = &refresh_schema, .body_optional = 1,
     .summary = "Exchange a refresh token for new tokens (the old one stops working); with no"
                " body, the cairn_rt cookie's",
     .rate_auth = 1, .response = &auth_tokens_answer, .errors = CN_ANS_401 | CN_ANS_403,
     .operation = "auth.refresh"},
    {CN_POST, "/api/v1/auth/logout", post_logout, "self.sessions",
     .summary = "Sign out this session, effective immediately", .success_status = 204,
     .operation = "auth.logout"},
    {CN_POST, "/api/v1/auth/logout-all", post_logout_all, "self.sessions",
     .summary = "Sign out every session of the caller in this tenant",
     .response = &auth_logout_all_answer, .operation = "auth.logoutAll"},
    {CN_POST, "/api/v1/auth/mfa/enroll", auth_mfa_enroll, "self.sessions",
     .summary = "Start TOTP enrolment: secret, otpauth:// URI and QR code PNG",
     .response = &auth_mfa_enrol_answer, .errors = CN_ANS_409, .operation = "auth.mfaEnroll"},
    {CN_POST, "/api/v1/auth/mfa/confirm", auth_mfa_confirm, "self.sessions",
     .body = &auth_mfa_confirm_schema,
     .summary = "Confirm enrolment with a first code; answers ten single-use recovery codes",
     .response = &auth_mfa_confirm_answer, .errors = CN_ANS_409, .operation = "auth.mfaConfirm"},
    {CN_POST, "/api/v1/auth/mfa/verify", post_mfa_verify, .body = &auth_mfa_verify_schema,
     .summary = "Second sign-in step: challenge plus a TOTP or recovery code", .rate_auth = 1,
     .response = &auth_tokens_answer, .errors = CN_ANS_401, .operation = "auth.mfaVerify"},
    {CN_POST, "/api/v1/auth/password", post_password, "self.sessions", .body = &password_schema,
     .summary = "Change one's password; every other session ends", .success_status = 204,
     .operation = "auth.changePassword"},
    {CN_POST, "/api/v1/auth/password/reset-request", auth_post_reset_request,
     .body = &auth_reset_request_schema, .rate_auth = 1, .success_status = 202,
     .summary = "Mail a password-reset token if the account exists (same answer either way)",
     .response = &auth_reset_request_answer, .operation = "auth.requestPasswordReset"},
    {CN_POST, "/api/v1/auth/password/reset", auth_post_reset, .body = &auth_reset_schema,
     .rate_auth = 1, .success_status = 204,
     .summary = "Set a new password with a mailed token; every session of the account ends",
     .errors = CN_ANS_401, .operation = "auth.resetPassword"},
    {CN_GET, "/api/v1/users/me", get_me, "self.read", .summary = "The caller",
     .response = &auth_me_answer, .operation = "users.me"},
    {CN_GET, "/api/v1/auth/session", get_session, "self.read",
     .summary = "The caller's session as checked (tenant, user, role, mfa); no database read",
     .response = &auth_session_answer, .errors = CN_ANS_404, .operation = "auth.session"},
    {CN_GET, "/api/v1/users/me/export", get_export, "self.read",
     .summary = "Everything held about the caller, as JSON (GDPR)", .response = &auth_export_answer,
     .operation = "users.exportMe"},
    {CN_DELETE, "/api/v1/users/me", delete_me, "self.delete",
     .summary = "Delete the caller's account: data removed, audit entries anonymised (GDPR)",
     .success_status = 204, .errors = CN_ANS_409, .operation = "users.deleteMe"},
    {CN_GET, "/api/v1/tenant", auth_get_tenant, "users.read", .summary = "The caller's tenant",
     .response = &auth_tenant_answer, .operation = "tenant.get"},
    {CN_PATCH, "/api/v1/tenant", auth_patch_tenant, "tenant.manage", .body = &auth_tenant_schema,
     .summary = "Rename the tenant, set its MFA policy or open self-service registration",
     .response = &auth_tenant_answer, .operation = "tenant.update"},
    {CN_POST, "/api/v1/tenants", auth_post_tenant, "platform.tenants",
     .body = &auth_new_tenant_schema, .success_status = 201,
     .summary = "Create a tenant, optionally with its first owner (operator token only)",
     .response = &auth_tenant_answer, .errors = CN_ANS_409, .operation = "tenants.create"},
    {CN_GET, "/api/v1/tenants", auth_list_tenants, "platform.tenants", .query = &cn_page_query,
     .summary = "Every tenant on this server (operator token only)",
     .response = &auth_tenant_list_answer, .operation = "tenants.list"},
    {CN_GET, "/api/v1/tenants/{id}", auth_get_any_tenant, "platform.tenants",
     .params = &cn_id_param, .summary = "One tenant (operator token only)",
     .response = &auth_tenant_answer, .operation = "tenants.get"},
    {CN_GET, "/api/v1/roles", auth_list_roles, "users.read",
     .summary = "Built-in and custom roles of the tenant", .response = &auth_role_list_answer,
     .operation = "roles.list"},
    {CN_POST, "/api/v1/roles", auth_post_role, "roles.manage", .body = &auth_role_schema,
     .summary = "Create a custom role (only permissions the caller holds)", .success_status = 201,
     .response = &auth_role_answer, .errors = CN_ANS_409, .operation = "roles.create"},
    {CN_DELETE, "/api/v1/roles/{name}", auth_delete_role, "roles.manage",
     .params = &auth_role_param, .summary = "Delete a custom role no member has",
     .success_status = 204, .errors = CN_ANS_409, .operation = "roles.delete"},
    {CN_GET, "/api/v1/users", auth_list_members, "users.read", .query = &cn_page_query,
     .summary = "Members of the tenant", .response = &auth_member_list_answer,
     .operation = "users.list"},
    {CN_POST, "/api/v1/users", auth_post_member, "users.manage", .body = &auth_member_schema,
     .summary = "Add a member (creating the account when the e-mail has none)",
     .success_status = 201, .response = &auth_member_role_answer, .errors = CN_ANS_409,
     .operation = "users.add"},
    {CN_PATCH, "/api/v1/users/{id}", auth_patch_member, "users.manage",
     .body = &auth_member_patch_schema, .params = &cn_id_param,
     .summary = "Change a member's role (their sessions in this tenant end)",
     .response = &auth_member_role_answer, .errors = CN_ANS_409, .operation = "users.update"},
    {CN_DELETE, "/api/v1/users/{id}", auth_delete_member, "users.manage", .params = &cn_id_param,
     .summary = "Remove a member from the tenant (their sessions end)", .success_status = 204,
     .errors = CN_ANS_409, .operation = "users.remove"},
    {CN_POST, "/api/v1/users/{id}/unlock", auth_post_unlock, "users.manage", .params = &cn_id_param,
     .summary = "Clear a member's sign-in lockout (every client IP)",
     .response = &auth_unlock_answer, .operation = "users.unlock"},
    {CN_GET, "/api/v1/audit", auth_list_audit, "audit.manage", .query = &auth_audit_query,
     .summary = "The tenant's audit log, newest first (filters: actor, action, since, until)",
     .response = &auth_audit_list_answer, .operation = "audit.list"},
    {CN_POST, "/api/v1/api-keys", auth_post_api_key, "api_keys.manage",
     .body = &auth_api_key_schema, .summary = "Create an API key (the key is shown only here)",
     .success_status = 201, .response = &auth_api_key_created_answer,
     .operation = "apiKeys.create"},
    {CN_GET, "/api/v1/api-keys", auth_list_api_keys, "api_keys.manage", .query = &cn_page_query,
     .summary = "List the tenant's API keys (never their secrets)",
     .response = &auth_api_key_list_answer, .operation = "apiKeys.list"},
    {CN_DELETE, "/api/v1/api-keys/{id}", auth_delete_api_key, "api_keys.manage",
     .params = &cn_id_param, .summary = "Revoke an API key, effective immediately",
     .success_status = 204, .operation = "apiKeys.revoke"},
    {0},
};

static const cn_permission_t permissions[] = {
    {"api_keys.manage", "Create, list and revoke the tenant's API keys", CN_ROLES_ADMINS},
    {"platform.tenants", "Create and list every tenant (the operator token; no tenant role)",
     CN_ROLE_NONE},
    {"audit.manage", "Read the tenant's audit log (owners and admins)", CN_ROLES_ADMINS},
    {"roles.manage", "Create and delete the tenant's custom roles", CN_ROLES_ADMINS},
    {"tenant.manage", "Rename the tenant and set its policies", CN_ROLES_ADMINS},
    {"users.read", "See the tenant's members and roles", CN_ROLES_ALL},
    {"users.manage", "Add members, change their roles, remove them", CN_ROLES_ADMINS},
    {"self.read", "Read one's own profile and export one's data", CN_ROLES_ALL},
    {"self.delete", "Delete one's own account", CN_ROLES_ALL},
    {"self.sessions", "Sign one's own sessions out", CN_ROLES_ALL},
    {0},
};

/*
 * Secrets sealed with another key (a database restored without its secrets.key, or a new
 * key made because the file was missing) would fail later and confusingly: signing keys
 * silently, TOTP checks as 500s. Refuse to start, naming what is missing, unless the
 * operator said to go on: then such signing keys retire (a new one signs) and such TOTP
 * secrets answer a problem of their own at mfa/verify.
 */
static int check_secrets(cn_store_t *store, const char *key_path, cn_err_t *err)
{
    int64_t keys = 0, totp = 0;
    int rc = auth_keys_unusable(store, 0, &keys, err);
    if (rc == 0)
        rc = auth_mfa_unusable(store, &totp, err);
    if (rc != 0 || keys + totp == 0)
        return rc;
    if (!auth_settings.allow_unusable_secrets) {
        int created = auth_vault_created();
        if (created) /* leave no new key behind: the right file can simply be put back */
            unlink(key_path);
        return cn_err_set(err, CN_EINVAL,
                          "auth.secrets_key_file %s %s: %lld signing keys and %lld TOTP secrets"
                          " in the database were sealed with another key. Restore the secrets"
                          " key file that belongs to this database, or start with"
                          " --allow-unusable-secrets (auth.allow_unusable_secrets) to retire those"
                          " signing keys (everyone signs in again) and leave those users to"
                          " their recovery codes",
                          key_path, created ? "was missing" : "does not open them", (long long)keys,
                          (long long)totp);
    }
    cn_log(CN_LOG_WARN, NULL,
           "auth.allow_unusable_secrets: %lld signing keys retired, %lld TOTP secrets unusable"
           " (those users sign in with a recovery code until an admin resets their MFA)",
           (long long)keys, (long long)totp);
    return auth_keys_unusable(store, 1, &keys, err);
}

int auth_secrets_open(const cn_config_t *cfg, cn_store_t *store, cn_err_t *err)
{
    char key_path[4096];
    auth_secrets_key_path(cfg, key_path, sizeof(key_path));
    int64_t totp = 0, keys = 0;
    int rc = auth_vault_open(key_path, err);
    if (rc == 0)
        rc = check_secrets(store, key_path, err);
    if (rc == 0 && (rc = auth_mfa_seal_plain(store, &totp, err)) == 0 && totp > 0)
        cn_log(CN_LOG_INFO, NULL, "encrypted %lld TOTP secrets stored before the vault",
               (long long)totp);
    if (rc == 0 && (rc = auth_keys_seal_plain(store, &keys, err)) == 0 && keys > 0)
        cn_log(CN_LOG_INFO, NULL, "encrypted %lld signing keys stored in plain", (long long)keys);
    return rc;
}

static int start(const cn_config_t *cfg, cn_store_t *store, cn_err_t *err)
{
    auth_lockout_configure(&auth_settings);
    auth_reset_configure(&auth_settings);
    auth_register_configure(&auth_settings);
    if (auth_passwords_init(AUTH_COMMON_PASSWORDS) != 0)
        return cn_err_set(err, CN_ERR,
                          "cannot load the common-password list %s (package john-data)",
                          AUTH_COMMON_PASSWORDS);
    int rc = auth_secrets_open(cfg, store, err);
    if (rc == 0)
        rc = auth_keys_load(store, err);
    if (rc == 0)
        rc = auth_sessions_load(store, err);
    if (rc == 0) {
        cn_set_auth_hook(authenticate);
        cn_set_authz_hook(authorize);
        cn_set_after_write_hook(auth_audit_request);
        cn_set_session_revoked_hook(auth_session_revoked);
        cn_store_add_hook(&auth_audit_hook);
    }
    return rc;
}

static void stop(void)
{
    auth_reset_free();
    auth_register_free();
    auth_keys_free();
    auth_sessions_free();
    auth_vault_close();
}

const cn_app_t auth_module = {
    .name = "auth",
    .description = "Identity and access: tenants, users, sessions, tokens",
    .migrations = migrations,
    .routes = routes,
    .permissions = permissions,
    .start = start,
    .stop = stop,
    .jobs = auth_reset_jobs,
    .settings = auth_settings_table,
};

/* ---- CLI ---- */

int auth_slug_chars_ok(const char *slug)
{
    for (const char *p = slug; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return 0;
    return 1;
}

int auth_tenant_create(cn_store_t *s, const char *slug, const char *name, char id_out[40],
                       cn_err_t *err)
{
    if (!auth_slug_chars_ok(slug))
        return cn_err_set(err, CN_EINVAL, "--slug: use lower-case letters, digits and '-'");
    if (slug[0] == '\0' || strlen(slug) > 64 || name[0] == '\0')
        return cn_err_set(err, CN_EINVAL, "--slug (1-64 characters) and --name are required");
    if (!cn_text_line_ok(name, strlen(name)))
        return cn_err_set(err, CN_EINVAL,
                          "--name: one line of text, without control, line-break or bidi-override "
                          "characters");
    cn_uuid7(id_out);
    cn_val_t args[] = {CN_VTEXT(id_out), CN_VTEXT(slug), CN_VTEXT(name), CN_VINT(cn_now_ms())};
    int rc =
        cn_store_exec(s, "INSERT INTO tenants (id, slug, name, created_at) VALUES ($1, $2, $3, $4)",
                      args, 4, NULL, err);
    if (rc == CN_ECONFLICT)
        cn_err_set(err, CN_ECONFLICT, "a tenant with slug %s exists", slug);
    return rc;
}

int auth_lookup_id(cn_store_t *s, const char *sql, const char *key, char out[40], cn_err_t *err)
{
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VTEXT(key)};
    int rc = cn_store_query(s, sql, args, 1, &st, err);
    if (rc != 0)
        return rc;
    rc = cn_stmt_step(st, err);
    if (rc == CN_ROW)
        snprintf(out, 40, "%s", cn_stmt_text(st, 0, NULL));
    cn_stmt_finish(st);
    return rc < 0 ? rc : rc == CN_ROW ? 0 : CN_ENOTFOUND;
}

int auth_user_create(cn_store_t *s, const char *tenant_slug, const char *email_in, const char *role,
                     const char *password, char id_out[40], cn_err_t *err)
{
    char email[256], tenant[40], hash[AUTH_HASH_LEN];
    auth_email_normalize(email_in, email, sizeof(email));
    if (!cn_is_email(email, strlen(email)))
        return cn_err_set(err, CN_EINVAL, "--email: not a valid e-mail address");
    if (!auth_role_valid(role))
        return cn_err_set(err, CN_EINVAL, "--role: must be one of owner, admin, member, viewer");
    if (auth_passwords_init(AUTH_COMMON_PASSWORDS) != 0)
        return cn_err_set(err, CN_ERR, "cannot load %s (package john-data)", AUTH_COMMON_PASSWORDS);
    const char *weak = auth_password_policy(password, strlen(password), email);
    if (weak != NULL)
        return cn_err_set(err, CN_EINVAL, "the password %s", weak);
    int rc = auth_lookup_id(s, "SELECT id FROM tenants WHERE slug = $1", tenant_slug, tenant, err);
    if (rc == CN_ENOTFOUND)
        return cn_err_set(err, CN_ENOTFOUND, "no tenant with slug %s", tenant_slug);
    if (rc != 0)
        return rc;
    if ((rc = cn_store_begin(s, err)) != 0)
        return rc;
    rc = auth_lookup_id(s, "SELECT id FROM users WHERE email = $1", email, id_out, err);
    if (rc == CN_ENOTFOUND) {
        if (auth_password_hash(password, strlen(password), hash) != 0)
            return cn_store_end(
                s, cn_err_set(err, CN_ERR, "cannot hash the password (out of memory)"), err);
        cn_uuid7(id_out);
        int64_t now = cn_now_ms();
        cn_val_t args[] = {CN_VTEXT(id_out), CN_VTEXT(email), CN_VTEXT(hash), CN_VINT(now)};
        rc = cn_store_exec(s,
                           "INSERT INTO users (id, email, password_hash, created_at, updated_at)"
                           " VALUES ($1, $2, $3, $4, $4)",
                           args, 4, NULL, err);
        sodium_memzero(hash, sizeof(hash));
    }
    if (rc == 0) {
        cn_val_t args[] = {CN_VTEXT(tenant), CN_VTEXT(id_out), CN_VTEXT(role),
                           CN_VINT(cn_now_ms())};
        rc = cn_store_exec(s,
                           "INSERT INTO memberships (tenant_id, user_id, role, created_at)"
                           " VALUES ($1, $2, $3, $4)",
                           args, 4, NULL, err);
        if (rc == CN_ECONFLICT)
            cn_err_set(err, CN_ECONFLICT, "%s is already a member of %s", email, tenant_slug);
    }
    return cn_store_end(s, rc, err);
}
