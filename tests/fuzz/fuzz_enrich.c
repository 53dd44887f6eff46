/*
 * libFuzzer target: the enrichment parsers fed untrusted bytes (User-Agent headers and
 * feedback text). cn_ua_parse must answer from its fixed vocabulary; cn_text_preprocess
 * must stay inside any cap, terminate, emit well-formed UTF-8 with forgery-proof tokens,
 * fit in cn_text_preprocess_bound, and cut short outputs only between items.
 */
#include "lib/textprep.h"
#include "lib/useragent.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/utf8.h>

static int one_of(const char *s, const char *const *set)
{
    for (; *set != NULL; set++)
        if (strcmp(s, *set) == 0)
            return 1;
    return 0;
}

static void check_ua(const char *data, size_t size)
{
    static const char *const devices[] = {"desktop", "mobile", "tablet", "bot", "unknown", NULL};
    static const char *const oses[] = {"Windows", "macOS",    "iOS",   "Android",
                                       "Linux",   "ChromeOS", "other", NULL};
    static const char *const clients[] = {"Chrome",           "Firefox", "Safari", "Edge",  "Opera",
                                          "Samsung Internet", "curl",    "bot",    "other", NULL};
    cn_ua_t ua;
    cn_ua_parse(data, size, &ua);
    if (!one_of(ua.device, devices) || !one_of(ua.os, oses) || !one_of(ua.client, clients))
        abort();
    if (ua.client_major < -1 || ua.client_major > 999999)
        abort();
}

/* Well-formed UTF-8, no control characters, single inner spaces, and '[', ']' and ASCII
 * capitals only inside the three tokens. */
static void check_text_shape(const char *s, size_t n)
{
    static const char *const tokens[] = {"[URL]", "[EMAIL]", "[NUM]"};
    if (n > 0 && (s[0] == ' ' || s[n - 1] == ' '))
        abort();
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '[') {
            size_t k = 0;
            while (k < 3 && strncmp(s + i, tokens[k], strlen(tokens[k])) != 0)
                k++;
            if (k == 3)
                abort();
            i += strlen(tokens[k]);
            continue;
        }
        if (c < 0x20 || c == 0x7f || c == ']' || (c >= 'A' && c <= 'Z'))
            abort();
        if (c == ' ' && s[i + 1] == ' ')
            abort();
        int32_t window = n - i < 4 ? (int32_t)(n - i) : 4, k = 0;
        UChar32 cp;
        U8_NEXT((const uint8_t *)s + i, k, window, cp);
        if (cp < 0)
            abort();
        i += (size_t)k;
    }
}

static void check_text(const char *data, size_t size)
{
    size_t bound = cn_text_preprocess_bound(size);
    char *full = malloc(bound + 64), *cut = malloc(bound + 64);
    if (full == NULL || cut == NULL)
        abort();
    size_t n = cn_text_preprocess(data, size, full, bound + 64);
    if (n >= bound || full[n] != '\0' || strlen(full) != n)
        abort(); /* the bound is enough, the result terminated and free of NULs */
    check_text_shape(full, n);
    if (cn_text_preprocess(data, size, cut, bound) != n || memcmp(cut, full, n + 1) != 0)
        abort(); /* exactly the bound loses nothing */

    static const size_t caps[] = {0, 1, 2, 3, 5, 6, 7, 8, 13, 64};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        size_t cap = caps[i];
        memset(cut, 0x55, bound + 64);
        size_t m = cn_text_preprocess(data, size, cut, cap);
        if (cap == 0 ? m != 0 || cut[0] != 0x55 : m >= cap || cut[m] != '\0')
            abort();
        if (m > n || memcmp(cut, full, m) != 0)
            abort(); /* a short output is a prefix of the full one */
        if (cut[cap] != 0x55 || (m < n && m > 0 && cut[m - 1] == ' '))
            abort(); /* nothing past cap; no dangling space */
    }
    free(full);
    free(cut);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_ua((const char *)data, size);
    check_text((const char *)data, size);
    return 0;
}
