/*
 * Browser sessions: the session's tokens in HttpOnly, SameSite=Strict cookies (Secure
 * over TLS) and a double-submit CSRF token that unsafe requests must echo in a header.
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

/** Adds Set-Cookie headers carrying access and refresh tokens plus a fresh CSRF token. */
void auth_cookies_set(cn_req_t *r, const char *access, const char *refresh);

/** Adds Set-Cookie headers that delete the three cookies. */
void auth_cookies_clear(cn_req_t *r);

/** For a cookie-authenticated unsafe request: 0 when X-CSRF-Token matches the cookie. */
int auth_csrf_check(cn_req_t *r, const char *cookie_header, size_t len);

#endif
