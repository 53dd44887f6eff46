/*
 * Refresh (see refresh.h): rotate, and treat reuse of a rotated token as theft. The
 * session row keeps the current generation, the SHA-256 of its secret and the hashes of
 * the last generations, so only a token really issued can prove reuse.
 */
#include "auth/refresh.h"
#include "auth/audit.h"
#include "auth/auth.h"
#include "auth/cookies.h"
#include "auth/login.h"
#include "auth/mfa.h"
#include "auth/tokens.h"
#include "lib/formats.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/*
 * A refresh token is "<session id>.<generation>.<secret>". The session row keeps the
 * current generation and the SHA-256 of its secret; rotating bumps both in place. An
 * older generation coming back means a copy was kept somewhere: the session is revoked.
 */

void auth_refresh_make(const char *sid, int64_t gen, char token[AUTH_REFRESH_MAX], char hash[65])
{
    char secret[48];
    auth_refresh_new(secret, hash);
    snprintf(token, AUTH_REFRESH_MAX, "%s.%lld.%s", sid, (long long)gen, secret);
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

/* ---- refresh: rotate, and treat reuse of a rotated token as theft ---- */

#define REFRESH_HISTORY 8

typedef struct {
    char tenant[40], user[40], role[CN_ROLE_NAME_MAX + 1], hash[65];
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

/* A presented refresh token, spent: the session it names, the next generation's token, and
 * where it came from. */
typedef struct {
    char sid[40], fresh[AUTH_REFRESH_MAX];
    refresh_row_t row;
    int from_cookie;
} spent_t;

/* The presented refresh token: the body's refresh_token, else the cairn_rt cookie (copied
 * into buf, *from_cookie set). 0, or the code to answer with. */
static int presented_refresh(cn_req_t *r, char buf[AUTH_REFRESH_MAX], const char **tok, size_t *len,
                             int *from_cookie)
{
    json_t *body = json_object_get(r->body, "refresh_token");
    *tok = json_string_value(body);
    *len = json_string_length(body);
    *from_cookie = 0;
    if (*tok != NULL)
        return 0;
    h2o_iovec_t ck = cn_req_header(r, "cookie");
    long n =
        ck.len ? auth_cookie_get(ck.base, ck.len, AUTH_COOKIE_REFRESH, buf, AUTH_REFRESH_MAX) : -1;
    if (n <= 0)
        return cn_fail(r, CN_EUNAUTH, "give refresh_token, or send the session cookies");
    *tok = buf;
    *len = (size_t)n;
    *from_cookie = 1;
    return 0;
}

/*
 * The presented token (generation gen, hash) against its session's row: 0 when it is the
 * current one; else the request fails, and a copy of an already-rotated token that was
 * really issued (its hash is on record; the session id is no secret) ends the session.
 */
static int judge_presented(cn_req_t *r, const char *sid, const refresh_row_t *row, int64_t gen,
                           const char *hash)
{
    if (row->revoked) /* perhaps by another process: this one's memory learns it now */
        auth_revoke_session(sid);
    if (row->revoked || row->expired)
        return cn_fail(r, CN_EUNAUTH, "the session has ended; sign in again");
    if (gen < row->gen && was_issued(row, gen, hash)) {
        char ip[64];
        cn_req_peer(r, ip, sizeof(ip));
        int rc;
        if ((rc = auth_session_end(r, sid)) != 0 ||
            (rc = auth_security_event(r, row->tenant, row->user, "auth.refresh.reused", sid, ip,
                                      401)) != 0 ||
            (rc = cn_store_commit(r->store, &r->err)) != 0)
            return rc;
        return cn_fail(r, CN_EUNAUTH,
                       "this refresh token was already used; the session is revoked");
    }
    if (gen != row->gen || strlen(row->hash) != 64 || sodium_memcmp(hash, row->hash, 64) != 0)
        return cn_fail(r, CN_EUNAUTH, "the refresh token is not valid");
    return 0;
}

/*
 * Takes the refresh token from the body or the cairn_rt cookie (then the CSRF token must
 * be its session's), checks it against its session and rotates it, in the write
 * transaction this opens; an already-rotated token coming back revokes the session (and
 * that is committed). 0 with *x set; else the code to answer with.
 */
static int spend_refresh(cn_req_t *r, spent_t *x)
{
    char hash[65], fresh_hash[65], from_cookie[AUTH_REFRESH_MAX];
    const char *presented;
    size_t presented_len;
    int64_t gen;
    memset(x, 0, sizeof(*x));
    int rc = presented_refresh(r, from_cookie, &presented, &presented_len, &x->from_cookie);
    if (rc != 0)
        return rc;
    char *sid = x->sid;
    refresh_row_t *row = &x->row;
    if (parse_refresh(presented, presented_len, sid, &gen, hash) != 0)
        return cn_fail(r, CN_EUNAUTH, "the refresh token is not valid");
    /* the CSRF token is the one derived from the refresh cookie's own session */
    if (x->from_cookie && auth_csrf_check(r, sid) != 0)
        return CN_EFORBIDDEN;
    rc = cn_store_begin(r->store, &r->err);
    if (rc == 0)
        rc = find_session(r, sid, row);
    if (rc == CN_ENOTFOUND)
        return cn_fail(r, CN_EUNAUTH, "the refresh token is not valid");
    if (rc != 0)
        return rc;
    if ((rc = judge_presented(r, sid, row, gen, hash)) != 0)
        return rc;
    auth_refresh_make(sid, gen + 1, x->fresh, fresh_hash);
    char prev[sizeof(row->prev)]; /* the current hash joins the history, the oldest leaves */
    snprintf(prev, sizeof(prev), "%s%s%.*s", row->hash, row->prev[0] ? "," : "",
             (int)((REFRESH_HISTORY - 1) * 65 - 1), row->prev);
    cn_val_t args[] = {CN_VTEXT(sid), CN_VINT(gen), CN_VTEXT(fresh_hash), CN_VTEXT(prev)};
    int64_t changes = 0;
    rc =
        cn_store_exec(r->store,
                      "UPDATE sessions SET refresh_gen = CAST($2 AS BIGINT) + 1, refresh_hash = $3,"
                      " refresh_prev = $4 WHERE id = $1 AND refresh_gen = $2",
                      args, 4, &changes, &r->err);
    if (rc == 0 && changes != 1) {
        /* rotated meanwhile by a request on another connection: PostgreSQL let this update
         * wait for that commit and then match nothing. The row as it is now says whether
         * the token is a reused copy. */
        rc = find_session(r, sid, row);
        if (rc == 0)
            rc = judge_presented(r, sid, row, gen, hash);
        if (rc == 0 || rc == CN_ENOTFOUND)
            rc = cn_fail(r, CN_EUNAUTH, "the refresh token is not valid");
    }
    return rc;
}

int auth_post_refresh(cn_req_t *r)
{
    spent_t x;
    int rc = spend_refresh(r, &x);
    if (rc == 0)
        rc = cn_store_commit(r->store, &r->err);
    if (rc != 0)
        return rc;
    auth_claims_t c;
    auth_fill_claims(&c, x.row.user, x.row.tenant, x.row.role, x.sid, x.row.mfa);
    auth_session_live(&c, x.row.expires_ms);
    return auth_reply_tokens(r, &c, x.fresh, x.from_cookie, 200);
}

/* ---- switching tenants: the session moves, as a refresh into another tenant ---- */

int auth_list_my_tenants(cn_req_t *r)
{
    if (r->principal.session_id[0] == '\0')
        return cn_fail(r, CN_ENOTFOUND,
                       "this credential has no session (API keys and the "
                       "operator's token belong to one tenant)");
    cn_val_t args[] = {CN_VTEXT(r->principal.subject)};
    cn_stmt_t *st;
    int rc = cn_store_query(r->store,
                            "SELECT t.id, t.slug, t.name, m.role FROM memberships m"
                            " JOIN tenants t ON t.id = m.tenant_id WHERE m.user_id = $1"
                            " ORDER BY t.slug",
                            args, 1, &st, &r->err);
    if (rc != 0)
        return rc;
    static const char *const names[] = {"id", "slug", "name", "role"};
    cn_jw_t w;
    cn_jw_init(&w, cn_reply_buffer(r));
    cn_jw_object(&w);
    cn_jw_key(&w, "items");
    cn_jw_array(&w);
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        cn_jw_object(&w);
        for (int i = 0; i < 4; i++) {
            size_t len;
            const char *v = cn_stmt_text(st, i, &len);
            cn_jw_key(&w, names[i]);
            cn_jw_str(&w, v, len);
        }
        cn_jw_key(&w, "current");
        cn_jw_bool(&w, strcmp(cn_stmt_text(st, 0, NULL), r->principal.tenant_id) == 0);
        cn_jw_end(&w);
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    cn_jw_end(&w);
    cn_jw_key(&w, "next_cursor");
    cn_jw_null(&w);
    cn_jw_end(&w);
    cn_reply_header(r, "cache-control", H2O_STRLIT("no-store"));
    return cn_reply_json_buf(r, 200);
}

typedef struct {
    char id[40], role[CN_ROLE_NAME_MAX + 1];
    int64_t mfa_required_for_admins;
} target_t;

/* The caller's membership in the tenant named by slug; CN_ENOTFOUND when there is none,
 * whether or not such a tenant exists (nobody learns of tenants they are not in). */
static int find_target(cn_req_t *r, const char *slug, target_t *t)
{
    cn_val_t args[] = {CN_VTEXT(slug), CN_VTEXT(r->principal.subject)};
    cn_stmt_t *st;
    int rc = cn_store_query(r->store,
                            "SELECT t.id, m.role, t.mfa_required_for_admins FROM tenants t"
                            " JOIN memberships m ON m.tenant_id = t.id"
                            " WHERE t.slug = $1 AND m.user_id = $2",
                            args, 2, &st, &r->err);
    if (rc != 0)
        return rc;
    if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        snprintf(t->id, sizeof(t->id), "%s", cn_stmt_text(st, 0, NULL));
        snprintf(t->role, sizeof(t->role), "%s", cn_stmt_text(st, 1, NULL));
        t->mfa_required_for_admins = cn_stmt_int(st, 2);
    }
    cn_stmt_finish(st);
    return rc == CN_ROW ? 0 : rc < 0 ? rc : CN_ENOTFOUND;
}

/* The target asks for a second factor this session has not given: its policy covers the
 * role there, and the account has one to give (without one, the session moves and the
 * policy confines it to enrolling, as at sign-in). */
static int needs_second_factor(cn_req_t *r, const spent_t *x, const target_t *t, int *needs)
{
    *needs = 0;
    if (x->row.mfa || !t->mfa_required_for_admins ||
        (strcmp(t->role, "owner") != 0 && strcmp(t->role, "admin") != 0))
        return 0;
    return auth_mfa_enabled(r->store, x->row.user, &r->err, needs);
}

/* 0 when the presented refresh token names the caller's own session; nothing is read or
 * written for it. */
static int refresh_is_callers(cn_req_t *r)
{
    char buf[AUTH_REFRESH_MAX], sid[40], hash[65];
    const char *tok;
    size_t len;
    int64_t gen;
    int from_cookie, rc = presented_refresh(r, buf, &tok, &len, &from_cookie);
    if (rc != 0)
        return rc;
    rc = parse_refresh(tok, len, sid, &gen, hash);
    sodium_memzero(buf, sizeof(buf));
    if (rc != 0)
        return cn_fail(r, CN_EUNAUTH, "the refresh token is not valid");
    if (strcmp(sid, r->principal.session_id) != 0)
        return cn_fail(r, CN_EUNAUTH, "the refresh token is not this session's");
    return 0;
}

int auth_post_switch(cn_req_t *r)
{
    if (r->principal.session_id[0] == '\0')
        return cn_fail(r, CN_EINVAL, "this credential has no session to move");
    target_t t = {0};
    int rc = find_target(r, json_string_value(json_object_get(r->body, "tenant")), &t);
    if (rc == CN_ENOTFOUND)
        return cn_fail(r, CN_ENOTFOUND, "you are not a member of a tenant with this slug");
    if (rc != 0)
        return rc;
    if (strcmp(t.id, r->principal.tenant_id) == 0)
        return cn_fail_field(r, "tenant", "is the tenant this session is in");
    /* the refresh token proves more than the access token: a copy of an access token alone
     * must not buy a session anywhere else. Another session's token is refused before it is
     * looked at, so it is neither rotated nor taken for a reused one (which would revoke
     * that session) */
    if ((rc = refresh_is_callers(r)) != 0)
        return rc;
    spent_t x;
    if ((rc = spend_refresh(r, &x)) != 0)
        return rc;
    int needs = 0, cookies = x.from_cookie || json_is_true(json_object_get(r->body, "cookie"));
    char ip[64];
    cn_req_peer(r, ip, sizeof(ip));
    if ((rc = needs_second_factor(r, &x, &t, &needs)) != 0)
        return rc;
    if (needs) {     /* the session ends here; mfa/verify opens the one in the target, with the
                      * end this one has: a switch never extends a sign-in */
        if (cookies) /* the old session's cookies go with it */
            auth_cookies_clear(r);
        if ((rc = auth_session_end(r, x.sid)) != 0 ||
            (rc = auth_security_event(r, t.id, x.row.user, "auth.switch.mfa_required", NULL, ip,
                                      200)) != 0 ||
            (rc = auth_mfa_challenge(r, x.row.user, t.id, t.role, x.row.expires_ms)) != 0)
            return rc;
        return cn_store_commit(r->store, &r->err);
    }
    if ((rc = auth_security_event(r, t.id, x.row.user, "auth.switch", NULL, ip, 200)) != 0)
        return rc;
    /* the same session, so its end, its second factor and the watch for a reused refresh
     * token go with it; its tokens for the old tenant stop matching it at once */
    cn_val_t args[] = {CN_VTEXT(x.sid), CN_VTEXT(t.id)};
    if ((rc = cn_store_exec(r->store, "UPDATE sessions SET tenant_id = $2 WHERE id = $1", args, 2,
                            NULL, &r->err)) != 0 ||
        (rc = cn_store_commit(r->store, &r->err)) != 0)
        return rc;
    auth_claims_t c;
    auth_fill_claims(&c, x.row.user, t.id, t.role, x.sid, x.row.mfa);
    auth_session_live(&c, x.row.expires_ms);
    return auth_reply_tokens(r, &c, x.fresh, cookies, 200);
}
