/*
 * Redacting connection URLs (see redact.h). Never shortens a secret to a prefix: a part
 * that might be one is replaced whole.
 */
#include "lib/redact.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Where the copy goes; left is what still fits before the NUL. */
typedef struct {
    char *p;
    size_t left;
} sink_t;

static void put(sink_t *s, const char *from, size_t n)
{
    size_t k = n < s->left ? n : s->left;
    memcpy(s->p, from, k);
    s->p += k;
    s->left -= k;
}

static void puts_(sink_t *s, const char *text)
{
    put(s, text, strlen(text));
}

/* libpq's URI schemes, which take a comma as a list of hosts inside one URL */
static int is_postgres(const char *url)
{
    return strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;
}

static int hex(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1;
}

/* 1 when the parameter name [name, end) ends in "password" once percent-decoded */
static int secret_name(const char *name, const char *end)
{
    char decoded[64];
    size_t n = 0;
    for (const char *p = name; p < end && n + 1 < sizeof(decoded); p++) {
        int hi = p + 2 < end && *p == '%' ? hex((unsigned char)p[1]) : -1;
        int lo = hi >= 0 ? hex((unsigned char)p[2]) : -1;
        if (lo >= 0) {
            decoded[n++] = (char)(hi * 16 + lo);
            p += 2;
        } else {
            decoded[n++] = *p;
        }
    }
    decoded[n] = '\0';
    return n >= 8 && strcasecmp(decoded + n - 8, "password") == 0;
}

/* The query [q, end) after its '?': every secret parameter's value becomes "***". */
static void redact_query(sink_t *s, const char *q, const char *end)
{
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        if (eq != NULL && secret_name(q, eq)) {
            put(s, q, (size_t)(eq + 1 - q));
            puts_(s, "***");
        } else {
            put(s, q, (size_t)(stop - q));
        }
        if (amp != NULL)
            put(s, "&", 1);
        q = amp ? amp + 1 : end;
    }
}

/* The userinfo [u, at) before '@': user:*** (or *** for a token), then the '@'. */
static void redact_userinfo(sink_t *s, const char *u, const char *at, int postgres)
{
    const char *colon = memchr(u, ':', (size_t)(at - u));
    if (colon != NULL) {
        put(s, u, (size_t)(colon + 1 - u));
        puts_(s, "***");
    } else if (postgres) {
        put(s, u, (size_t)(at - u)); /* a user name */
    } else {
        puts_(s, "***");
    }
    put(s, "@", 1);
}

/* One URL [url, end). */
static void redact_one(sink_t *s, const char *url, const char *end, int postgres)
{
    const char *q = memchr(url, '?', (size_t)(end - url));
    const char *rest_end = q ? q : end;
    const char *sep = strstr(url, "://");
    const char *p = url;
    if (sep != NULL && sep < rest_end) {
        p = sep + 3;
        put(s, url, (size_t)(p - url));
        const char *at = NULL;
        for (const char *c = p; c < rest_end; c++)
            if (*c == '@')
                at = c;
        if (at != NULL) {
            redact_userinfo(s, p, at, postgres);
            p = at + 1;
        }
    }
    put(s, p, (size_t)(rest_end - p));
    if (q != NULL) {
        put(s, "?", 1);
        redact_query(s, q + 1, end);
    }
}

void cn_url_redact(const char *url, char *out, size_t cap)
{
    sink_t s = {out, cap - 1};
    const char *end = url + strlen(url);
    if (is_postgres(url)) {
        redact_one(&s, url, end, 1);
    } else {
        for (const char *p = url; p <= end;) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            const char *stop = comma ? comma : end;
            redact_one(&s, p, stop, 0);
            if (comma == NULL)
                break;
            put(&s, ",", 1);
            p = comma + 1;
        }
    }
    *s.p = '\0';
}
