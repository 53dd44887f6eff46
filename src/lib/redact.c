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

/* The first byte of [p, end) that is one of set, or NULL. */
static const char *strpbrk_n(const char *p, const char *end, const char *set)
{
    for (; p < end; p++)
        if (strchr(set, *p) != NULL)
            return p;
    return NULL;
}

/* The userinfo [u, at) before '@': user:*** (or *** for a token), then the '@'. */
static void redact_userinfo(sink_t *s, const char *u, const char *at, int postgres)
{
    const char *colon = memchr(u, ':', (size_t)(at - u));
    if (colon != NULL) {
        put(s, u, (size_t)(colon + 1 - u));
        puts_(s, "***");
    } else if (postgres && strpbrk_n(u, at, "?=&") == NULL) {
        put(s, u, (size_t)(at - u)); /* a user name */
    } else { /* a token, or a user name that may be a query holding a password */
        puts_(s, "***");
    }
    put(s, "@", 1);
}

/* 1 when [p, end) reads as host[:port] (a port of digits; an IPv6 host in brackets). */
static int host_port(const char *p, const char *end)
{
    const char *colon = NULL, *bracket = NULL;
    for (const char *c = p; c < end; c++) {
        if (*c == ':')
            colon = c;
        if (*c == ']')
            bracket = c;
    }
    if (colon == NULL || (bracket != NULL && bracket > colon))
        return 1;
    for (const char *c = colon + 1; c < end; c++)
        if (!isdigit((unsigned char)*c) && *c != '/')
            return 0;
    return 1;
}

/* One URL [url, end). The userinfo runs to the last '@' (a password may hold '@', '?',
 * '/' or ','; hiding too much is the safe side), the query from the first '?' after it. */
static void redact_one(sink_t *s, const char *url, const char *end, int postgres)
{
    const char *sep = strstr(url, "://");
    const char *p = url;
    if (sep != NULL && sep < end) {
        p = sep + 3;
        put(s, url, (size_t)(p - url));
        const char *at = NULL;
        for (const char *c = p; c < end; c++)
            if (*c == '@')
                at = c;
        if (at != NULL) {
            redact_userinfo(s, p, at, postgres);
            p = at + 1;
        }
    }
    const char *q = memchr(p, '?', (size_t)(end - p));
    const char *rest_end = q ? q : end;
    if (!postgres && sep != NULL && !host_port(p, rest_end))
        puts_(s, "***"); /* not host[:port]: maybe a piece of a password */
    else
        put(s, p, (size_t)(rest_end - p));
    if (q != NULL) {
        put(s, "?", 1);
        redact_query(s, q + 1, end);
    }
}

/* Text that is not a URL (a libpq "key=value" string, say): every value of a key that
 * ends in "password" becomes "***". */
static void redact_keywords(sink_t *s, const char *p, const char *end)
{
    while (p < end) {
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq == NULL) {
            put(s, p, (size_t)(end - p));
            return;
        }
        const char *name_end = eq;
        while (name_end > p && name_end[-1] == ' ')
            name_end--;
        const char *name = name_end;
        while (name > p && name[-1] != ' ')
            name--;
        put(s, p, (size_t)(eq + 1 - p));
        const char *v = eq + 1;
        while (v < end && *v == ' ')
            put(s, v++, 1);
        const char *v_end = v;
        while (v_end < end && *v_end != ' ')
            v_end++;
        if (secret_name(name, name_end))
            puts_(s, "***");
        else
            put(s, v, (size_t)(v_end - v));
        p = v_end;
    }
}

/* The next item of a list: a comma starts one only when a scheme follows it. */
static const char *item_end(const char *p, const char *end)
{
    for (const char *c = p; (c = memchr(c, ',', (size_t)(end - c))) != NULL; c++) {
        const char *n = c + 1;
        while (n < end && *n == ' ')
            n++;
        const char *colon = memchr(n, ':', (size_t)(end - n));
        if (colon != NULL && end - colon >= 3 && colon[1] == '/' && colon[2] == '/' &&
            memchr(n, '@', (size_t)(colon - n)) == NULL &&
            memchr(n, ',', (size_t)(colon - n)) == NULL)
            return c;
    }
    return end;
}

void cn_url_redact(const char *url, char *out, size_t cap)
{
    sink_t s = {out, cap - 1};
    const char *end = url + strlen(url);
    if (strstr(url, "://") == NULL)
        redact_keywords(&s, url, end);
    else if (is_postgres(url))
        redact_one(&s, url, end, 1);
    else
        for (const char *p = url; p <= end;) {
            const char *stop = item_end(p, end);
            redact_one(&s, p, stop, 0);
            if (stop == end)
                break;
            put(&s, ",", 1);
            p = stop + 1;
        }
    *s.p = '\0';
}
