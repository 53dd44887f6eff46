/*
 * Browser sessions: the session's tokens in HttpOnly, SameSite=Strict cookies (Secure
 * over TLS) and a CSRF token that unsafe requests must echo in a header. The CSRF token
 * is derived from the session id with a key only the server has (from the vault key), so
 * whoever can plant cookies still cannot make one that fits another session.
 */
#ifndef CAIRN_AUTH_COOKIES_H
#define CAIRN_AUTH_COOKIES_H

#include "core/http.h"

#define AUTH_COOKIE_ACCESS "cairn_at"
#define AUTH_COOKIE_REFRESH "cairn_rt"
#define AUTH_COOKIE_CSRF "cairn_csrf"

/**
 * Finds cookie name in a Cookie header ("a=1; b=2"). Copies its value (at most cap-1
 * bytes) and returns its length, or -1 when absent or too long. Pure; fuzzed.
 */
long auth_cookie_get(const char *header, size_t len, const char *name, char *out, size_t cap);

/**
 * Adds Set-Cookie headers carrying access and refresh tokens plus the CSRF token of
 * session sid. 0, or -1 when the CSRF key is not available (no vault open).
 */
int auth_cookies_set(cn_req_t *r, const char *access, const char *refresh, const char *sid);

/** Adds Set-Cookie headers that delete the three cookies. */
void auth_cookies_clear(cn_req_t *r);

/**
 * The CSRF token of session sid: base64url of HMAC-SHA256(key, sid), the key derived from
 * the vault key. Same session, same token. 0, or -1 when no vault is open. Pure otherwise.
 */
int auth_csrf_token(const char *sid, char out[48]);

/**
 * For a cookie-authenticated unsafe request of session sid: 0 when X-CSRF-Token is that
 * session's token (compared in constant time), else CN_EFORBIDDEN with the message set.
 */
int auth_csrf_check(cn_req_t *r, const char *sid);

#endif
