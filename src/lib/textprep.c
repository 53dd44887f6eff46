/*
 * Text preprocessing (see textprep.h). One left-to-right pass: at the start of each word
 * the URL, e-mail and number rules get a look (in that order, so "http://a@b.com" is a
 * URL and "1@b.com" an address); anything else goes one code point at a time, classified
 * by Unicode general category through ICU. Every look-ahead either consumes what it
 * scanned or, for e-mail, remembers how far it got, so the work stays linear in len.
 */
#include "lib/textprep.h"

#include "lib/formats.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

typedef enum {
    CH_DROP,  /* control, format, unassigned, ill-formed: removed without a trace */
    CH_SPACE, /* whitespace */
    CH_BREAK, /* symbols and ASCII marks that are not sentence punctuation */
    CH_PUNCT,
    CH_WORD,  /* letters, marks, numbers other than decimal digits */
    CH_DIGIT, /* decimal digits of any script */
} ch_class_t;

typedef struct {
    ch_class_t cls;
    UChar32 cp; /* negative for an ill-formed sequence */
    size_t n_bytes;
} ch_t;

typedef struct {
    char *buf;
    size_t cap, len;
    int space_pending; /* whitespace or a break since the last item written */
    int full;          /* an item did not fit: nothing more is written */
} sink_t;

#define MAX_SCHEME_LEN 32

static const char KEPT_ASCII_PUNCT[] = ".,!?;:'\"()-";

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

static ch_class_t ascii_class(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return CH_DIGIT;
    if (is_alpha((char)c))
        return CH_WORD;
    if (c == ' ' || (c >= '\t' && c <= '\r'))
        return CH_SPACE;
    if (c < 0x20 || c == 0x7f)
        return CH_DROP;
    return strchr(KEPT_ASCII_PUNCT, c) != NULL ? CH_PUNCT : CH_BREAK;
}

static ch_class_t unicode_class(UChar32 c)
{
    if (u_isUWhiteSpace(c))
        return CH_SPACE;
    uint32_t mask = U_GET_GC_MASK(c);
    if (mask & U_GC_ND_MASK)
        return CH_DIGIT;
    if (mask & (U_GC_L_MASK | U_GC_M_MASK | U_GC_N_MASK))
        return CH_WORD;
    if (mask & U_GC_P_MASK)
        return CH_PUNCT;
    if (mask & U_GC_S_MASK)
        return CH_BREAK;
    return CH_DROP;
}

/* The code point at in[i] (i < len). ICU's indexes are int32_t: decode in a window. */
static ch_t next_char(const char *in, size_t len, size_t i)
{
    unsigned char b = (unsigned char)in[i];
    if (b < 0x80)
        return (ch_t){ascii_class(b), b, 1};
    const uint8_t *s = (const uint8_t *)in + i;
    int32_t window = len - i < 4 ? (int32_t)(len - i) : 4, n = 0;
    UChar32 c;
    U8_NEXT(s, n, window, c);
    return (ch_t){c < 0 ? CH_DROP : unicode_class(c), c, (size_t)n};
}

/* Writes one item, preceded by a space if one is pending, or nothing at all. */
static void put(sink_t *s, const char *item, size_t n)
{
    size_t gap = s->space_pending && s->len > 0;
    if (s->full || s->len + gap + n >= s->cap) {
        s->full = 1;
        return;
    }
    if (gap)
        s->buf[s->len++] = ' ';
    memcpy(s->buf + s->len, item, n);
    s->len += n;
    s->space_pending = 0;
}

static void put_lower(sink_t *s, const char *at, ch_t ch)
{
    char utf8[U8_MAX_LENGTH];
    if (ch.cp < 0x80) {
        utf8[0] = (char)(*at | 0x20); /* an ASCII letter */
        put(s, utf8, 1);
        return;
    }
    int32_t n = 0;
    U8_APPEND_UNSAFE((uint8_t *)utf8, n, u_tolower(ch.cp));
    put(s, utf8, (size_t)n);
}

static void put_char(sink_t *s, const char *at, ch_t ch)
{
    switch (ch.cls) {
    case CH_DROP: return;
    case CH_SPACE:
    case CH_BREAK: s->space_pending = 1; return;
    case CH_WORD: put_lower(s, at, ch); return;
    case CH_PUNCT:
    case CH_DIGIT: put(s, at, ch.n_bytes); return;
    }
}

/* Index after "www." or "scheme://" at in[i], or 0. */
static size_t url_body_start(const char *in, size_t len, size_t i)
{
    if (len - i >= 4 && strncasecmp(in + i, "www.", 4) == 0)
        return i + 4;
    if (!is_alpha(in[i]))
        return 0;
    size_t k = i + 1;
    while (k < len && k - i < MAX_SCHEME_LEN &&
           (is_alnum(in[k]) || in[k] == '+' || in[k] == '-' || in[k] == '.'))
        k++;
    return len - k >= 3 && memcmp(in + k, "://", 3) == 0 ? k + 3 : 0;
}

static int ends_url(unsigned char c)
{
    return c <= ' ' || c == 0x7f || c == '"' || c == '<' || c == '>';
}

/* Length of the URL at in[i], 0 if none. Sentence marks after it are not part of it, nor
 * is a ")" that closes no "(" inside it: "(see https://x.org/C_(lang))" keeps one. */
static size_t url_length(const char *in, size_t len, size_t i)
{
    size_t body = url_body_start(in, len, i), end = body, n_open = 0, n_close = 0;
    if (body == 0)
        return 0;
    for (; end < len && !ends_url((unsigned char)in[end]); end++) {
        n_open += in[end] == '(';
        n_close += in[end] == ')';
    }
    while (end > body && strchr(".,!?;:')", in[end - 1]) != NULL) {
        if (in[end - 1] == ')') {
            if (n_close <= n_open)
                break;
            n_close--;
        }
        end--;
    }
    return end > body ? end - i : 0;
}

static int is_email_byte(char c)
{
    return is_alnum(c) || (c != '\0' && strchr("._%+-@", c) != NULL);
}

/* Length of the e-mail address at in[i], 0 if none; *scanned_to is where the scan ended,
 * so that no later start inside the same run scans it again. */
static size_t email_length(const char *in, size_t len, size_t i, size_t *scanned_to)
{
    size_t end = i;
    while (end < len && is_email_byte(in[end]))
        end++;
    *scanned_to = end;
    while (end > i && in[end - 1] == '.') /* the full stop after an address */
        end--;
    if (memchr(in + i, '@', end - i) == NULL || !cn_is_email(in + i, end - i))
        return 0;
    return end - i;
}

/* Length of the digit run at in[i] ("1,000", "3.14"), 0 if there is none. *standalone is
 * 0 when a letter follows ("5th", "10am"): then it is a word, not a number. */
static size_t number_length(const char *in, size_t len, size_t i, int *standalone)
{
    size_t end = i;
    ch_t ch = next_char(in, len, i);
    if (ch.cls != CH_DIGIT)
        return 0;
    while (ch.cls == CH_DIGIT) {
        end += ch.n_bytes;
        if (end >= len)
            break;
        ch = next_char(in, len, end);
        if ((in[end] == '.' || in[end] == ',') && end + 1 < len &&
            next_char(in, len, end + 1).cls == CH_DIGIT) {
            end++;
            ch = next_char(in, len, end);
        }
    }
    *standalone = end >= len || next_char(in, len, end).cls != CH_WORD;
    return end - i;
}

/* Writes the URL, e-mail or number starting the word at in[i]; returns the bytes used. */
static size_t put_token(sink_t *s, const char *in, size_t len, size_t i, size_t *email_scan_end)
{
    size_t n = url_length(in, len, i);
    if (n > 0) {
        put(s, "[URL]", 5);
        return n;
    }
    if (i >= *email_scan_end && is_alnum(in[i])) {
        n = email_length(in, len, i, email_scan_end);
        if (n > 0) {
            put(s, "[EMAIL]", 7);
            return n;
        }
    }
    int standalone = 0;
    n = number_length(in, len, i, &standalone);
    if (n > 0)
        put(s, standalone ? "[NUM]" : in + i, standalone ? 5 : n);
    return n;
}

size_t cn_text_preprocess_bound(size_t len)
{
    return len > (SIZE_MAX - 3) / 3 ? SIZE_MAX : 3 * len + 3;
}

size_t cn_text_preprocess(const char *in, size_t len, char *out, size_t cap)
{
    sink_t s = {.buf = out, .cap = cap};
    size_t i = 0, email_scan_end = 0;
    int in_word = 0; /* the last visible character was a letter or digit */
    while (i < len && !s.full) {
        size_t used = in_word ? 0 : put_token(&s, in, len, i, &email_scan_end);
        if (used > 0) {
            i += used;
            in_word = 1;
            continue;
        }
        ch_t ch = next_char(in, len, i);
        put_char(&s, in + i, ch);
        if (ch.cls != CH_DROP)
            in_word = ch.cls == CH_WORD || ch.cls == CH_DIGIT;
        i += ch.n_bytes;
    }
    if (cap > 0)
        out[s.len] = '\0';
    return s.len;
}
