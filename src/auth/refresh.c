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

int auth_post_refresh(cn_req_t *r)
{
    json_t *tok = json_object_get(r->body, "refresh_token");
    char sid[40], hash[65], fresh[AUTH_REFRESH_MAX], fresh_hash[65], from_cookie[AUTH_REFRESH_MAX];
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
        if ((rc = auth_session_end(r, sid)) != 0 ||
            (rc = auth_security_event(r, row.tenant, row.user, "auth.refresh.reused", sid, ip,
                                      401)) != 0 ||
            (rc = cn_store_commit(r->store, &r->err)) != 0)
            return rc;
        return cn_fail(r, CN_EUNAUTH,
                       "this refresh token was already used; the session is revoked");
    }
    if (gen != row.gen || strlen(row.hash) != 64 || sodium_memcmp(hash, row.hash, 64) != 0)
        return cn_fail(r, CN_EUNAUTH, "the refresh token is not valid");
    auth_refresh_make(sid, gen + 1, fresh, fresh_hash);
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
    auth_fill_claims(&c, row.user, row.tenant, row.role, sid, row.mfa);
    auth_session_live(&c, row.expires_ms);
    return auth_reply_tokens(r, &c, fresh, presented == from_cookie, 200);
}
