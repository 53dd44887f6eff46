/*
 * Cookies (see cookies.h). The CSRF token is readable by the page's script (not HttpOnly);
 * a cross-site page can make the browser send the cookies but can neither read the token
 * nor set the header, and SameSite=Strict stops most of it before. It is an HMAC of the
 * session id, not a random value echoed back: a value planted in the cookie (by a sibling
 * subdomain, say) fits no session but the one it was made for.
 */
#include "auth/cookies.h"
#include "auth/settings.h"
#include "auth/tokens.h"
#include "auth/vault.h"
#include "lib/formats.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

long auth_cookie_get(const char *h, size_t len, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name), i = 0;
    while (i < len) {
        while (i < len && (h[i] == ' ' || h[i] == ';'))
            i++;
        size_t start = i;
        while (i < len && h[i] != ';')
            i++;
        /* start..i is one "name=value" pair */
        const char *eq = memchr(h + start, '=', i - start);
        if (eq != NULL && (size_t)(eq - (h + start)) == n && memcmp(h + start, name, n) == 0) {
            size_t vlen = (size_t)(h + i - eq - 1);
            while (vlen > 0 && eq[vlen] == ' ') /* trailing spaces before ';' */
                vlen--;
            if (vlen + 1 > cap)
                return -1;
            memcpy(out, eq + 1, vlen);
            out[vlen] = '\0';
            return (long)vlen;
        }
    }
    return -1;
}

static void set_cookie(cn_req_t *r, const char *name, const char *value, const char *path,
                       long max_age, int http_only)
{
    char buf[1200];
    int secure = r->h->scheme == &H2O_URL_SCHEME_HTTPS;
    int n = snprintf(buf, sizeof(buf), "%s=%s; Path=%s; Max-Age=%ld; SameSite=Strict%s%s", name,
                     value, path, max_age, http_only ? "; HttpOnly" : "", secure ? "; Secure" : "");
    if (n > 0 && (size_t)n < sizeof(buf))
        cn_reply_header(r, "set-cookie", buf, (size_t)n);
}

int auth_csrf_token(const char *sid, char out[48])
{
    uint8_t key[crypto_auth_hmacsha256_KEYBYTES], mac[crypto_auth_hmacsha256_BYTES];
    if (auth_vault_derive(1, "cairncsr", key, sizeof(key)) != 0)
        return -1;
    crypto_auth_hmacsha256(mac, (const uint8_t *)sid, strlen(sid), key);
    sodium_memzero(key, sizeof(key));
    cn_base64url_encode(mac, sizeof(mac), out);
    return 0;
}

int auth_cookies_set(cn_req_t *r, const char *access, const char *refresh, const char *sid)
{
    char csrf[48];
    if (auth_csrf_token(sid, csrf) != 0)
        return -1;
    set_cookie(r, AUTH_COOKIE_ACCESS, access, "/", auth_access_ttl_s(), 1);
    set_cookie(r, AUTH_COOKIE_REFRESH, refresh, "/api/v1/auth", AUTH_REFRESH_TTL_S, 1);
    set_cookie(r, AUTH_COOKIE_CSRF, csrf, "/", AUTH_REFRESH_TTL_S, 0);
    return 0;
}

void auth_cookies_clear(cn_req_t *r)
{
    set_cookie(r, AUTH_COOKIE_ACCESS, "", "/", 0, 1);
    set_cookie(r, AUTH_COOKIE_REFRESH, "", "/api/v1/auth", 0, 1);
    set_cookie(r, AUTH_COOKIE_CSRF, "", "/", 0, 0);
}

int auth_csrf_check(cn_req_t *r, const char *sid)
{
    char want[48];
    h2o_iovec_t got = cn_req_header(r, "x-csrf-token");
    size_t n = auth_csrf_token(sid, want) == 0 ? strlen(want) : 0;
    if (n == 0 || got.len != n || sodium_memcmp(got.base, want, n) != 0)
        return cn_fail(r, CN_EFORBIDDEN,
                       "this cookie-authenticated request needs the X-CSRF-Token header with "
                       "its session's token (the cairn_csrf cookie's value)");
    return 0;
}
