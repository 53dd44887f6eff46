/*
 * User-Agent classification (see useragent.h). Three ordered token tables, first match
 * wins, because real User-Agents pile up each other's names: Edge, Opera and Samsung
 * Internet also say "Chrome/", Chrome also says "Safari/", iPhones say "like Mac OS X"
 * and Android says "Linux". Every search is bounded by CN_UA_SCAN_MAX.
 */
#include "lib/useragent.h"

#include <string.h>

typedef struct {
    const char *marker;      /* case-sensitive token naming the client */
    const char *family;      /* what it is reported as */
    const char *version_key; /* the major version follows this token; NULL: none */
} client_rule_t;

static const client_rule_t CLIENT_RULES[] = {
    {"curl/", "curl", "curl/"},
    {"Edg/", "Edge", "Edg/"},       /* Chromium Edge on desktops */
    {"EdgA/", "Edge", "EdgA/"},     /* ... on Android */
    {"EdgiOS/", "Edge", "EdgiOS/"}, /* ... on iOS */
    {"Edge/", "Edge", "Edge/"},     /* EdgeHTML Edge (12-18) */
    {"OPR/", "Opera", "OPR/"},      /* Chromium Opera */
    {"Opera", "Opera", "Version/"}, /* Presto: "Opera/9.80 (...) Version/12.16" */
    {"SamsungBrowser/", "Samsung Internet", "SamsungBrowser/"},
    {"Firefox/", "Firefox", "Firefox/"},
    {"FxiOS/", "Firefox", "FxiOS/"},
    {"CriOS/", "Chrome", "CriOS/"},
    {"Chrome/", "Chrome", "Chrome/"},
    {"Android", "other", NULL},        /* the old stock browser also says "Safari/" */
    {"Safari/", "Safari", "Version/"}, /* Safari's own version is in "Version/" */
};

typedef struct {
    const char *marker;
    const char *family;
} os_rule_t;

static const os_rule_t OS_RULES[] = {
    {"Windows", "Windows"}, /* before Android: Windows Phone 10 also says "Android" */
    {"iPhone", "iOS"},      /* iOS before macOS: "CPU iPhone OS 17_0 like Mac OS X" */
    {"iPad", "iOS"},        {"iPod", "iOS"},       {"CrOS", "ChromeOS"},
    {"Android", "Android"}, /* before Linux: "(Linux; Android 14; ...)" */
    {"Macintosh", "macOS"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"},
};

/* Matched case-insensitively: crawlers spell themselves Googlebot, bingbot, YandexBot.
 * "bot" itself is checked by says_bot. */
static const char *const BOT_MARKERS[] = {"crawl", "spider", "slurp", "facebookexternalhit"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static char fold(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* First occurrence of needle in s[0..n), or NULL (memmem: a UA is scanned a dozen times
 * per interaction, so the search must not be byte-by-byte). Case-insensitive searches run
 * over a lowercased copy (see cn_ua_parse), with needles in lowercase. */
static const char *find(const char *s, size_t n, const char *needle)
{
    return n == 0 ? NULL : memmem(s, n, needle, strlen(needle)); /* s may be NULL when n is 0 */
}

/* "bot" anywhere but inside "CUBOT", a phone maker. */
static int says_bot(const char *s, size_t n)
{
    const char *at = find(s, n, "bot");
    while (at != NULL) {
        size_t pos = (size_t)(at - s);
        if (pos < 2 || fold(s[pos - 2]) != 'c' || fold(s[pos - 1]) != 'u')
            return 1;
        at = find(at + 3, n - pos - 3, "bot");
    }
    return 0;
}

static int is_bot(const char *s, size_t n)
{
    for (size_t i = 0; i < N_OF(BOT_MARKERS); i++)
        if (find(s, n, BOT_MARKERS[i]) != NULL)
            return 1;
    return says_bot(s, n);
}

/* The integer right after key ("Chrome/120.0" -> 120); -1 if absent or implausibly long. */
static int major_after(const char *s, size_t n, const char *key)
{
    const char *at = key ? find(s, n, key) : NULL;
    if (at == NULL)
        return -1;
    const char *p = at + strlen(key), *end = s + n;
    int value = 0, n_digits = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (++n_digits > 6)
            return -1;
        value = value * 10 + (*p - '0');
    }
    return n_digits > 0 ? value : -1;
}

static const char *os_of(const char *s, size_t n)
{
    for (size_t i = 0; i < N_OF(OS_RULES); i++)
        if (find(s, n, OS_RULES[i].marker) != NULL)
            return OS_RULES[i].family;
    return "other";
}

static void client_of(const char *s, size_t n, cn_ua_t *out)
{
    out->client = "other";
    out->client_major = -1;
    for (size_t i = 0; i < N_OF(CLIENT_RULES); i++) {
        if (find(s, n, CLIENT_RULES[i].marker) != NULL) {
            out->client = CLIENT_RULES[i].family;
            out->client_major = major_after(s, n, CLIENT_RULES[i].version_key);
            return;
        }
    }
}

static int is_desktop_os(const char *os)
{
    return !strcmp(os, "Windows") || !strcmp(os, "macOS") || !strcmp(os, "Linux") ||
           !strcmp(os, "ChromeOS");
}

/* iPads also say "Mobile/", so tablets are checked first; "Mobi" covers "Opera Mobi". */
static const char *device_of(const char *s, size_t n, const char *os)
{
    if (find(s, n, "iPad") || find(s, n, "Tablet"))
        return "tablet";
    if (find(s, n, "Mobi") || find(s, n, "iPhone") || find(s, n, "iPod") ||
        find(s, n, "Opera Mini"))
        return "mobile";
    if (!strcmp(os, "Android")) /* Android phones say "Mobile"; tablets don't */
        return "tablet";
    return is_desktop_os(os) ? "desktop" : "unknown";
}

void cn_ua_parse(const char *ua, size_t len, cn_ua_t *out)
{
    size_t n = len < CN_UA_SCAN_MAX ? len : CN_UA_SCAN_MAX;
    char lower[CN_UA_SCAN_MAX];
    for (size_t i = 0; i < n; i++)
        lower[i] = fold(ua[i]);
    out->os = os_of(ua, n);
    if (is_bot(lower, n)) {
        out->device = "bot";
        out->client = "bot";
        out->client_major = -1;
        return;
    }
    client_of(ua, n, out);
    out->device = device_of(ua, n, out->os);
}
