/*
 * JSON helpers (see json.h). The parser is jansson's; this file only fixes the options
 * every caller must use and turns its errors into messages clients can act on.
 */
#include "core/json.h"
#include "lib/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *cn_json_parse(const char *buf, size_t len, cn_err_t *err)
{
    json_error_t jerr;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (j == NULL)
        cn_err_set(err, CN_EINVAL, "malformed JSON at line %d, column %d: %s", jerr.line,
                   jerr.column, jerr.text);
    return j;
}

void cn_buf_reserve(cn_buf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = cn_realloc(b->data, cap);
    b->cap = cap;
}

/* the short pieces of a JSON answer (quotes, commas, keys) cost no call */
#define put cn_buf_put
#define put_lit(b, s) cn_buf_put((b), (s), sizeof(s) - 1)

void cn_buf_append(cn_buf_t *b, const void *p, size_t n)
{
    put(b, p, n);
}

void cn_buf_appendf(cn_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    cn_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* 1 for the bytes a JSON string cannot hold as they are: control characters, the quote,
 * the backslash, and every byte of a multi-byte UTF-8 sequence (checked one by one) */
static const unsigned char json_special[256] = {
    [0 ... 0x1f] = 1,
    ['"'] = 1,
    ['\\'] = 1,
    [0x80 ... 0xff] = 1,
};

/* 8 bytes at a time while none of them is special (a control byte, '"', '\\' or >= 0x80;
 * the bit tricks of "Bit Twiddling Hacks": a byte below k, a zero byte after an XOR),
 * then the table: the end of the run that starts at i, of bytes json_special lets through */
static size_t plain_run(const unsigned char *p, size_t i, size_t n)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
        uint64_t special =
            ((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) | w;
        if (special & highs)
            break;
    }
    while (i < n && !json_special[p[i]])
        i++;
    return i;
}

void cn_buf_append_json_str(cn_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    cn_buf_reserve(b, n + 8);
    b->data[b->len] = '\0'; /* keep the NUL invariant even when nothing is appended */
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (!json_special[c]) { /* a table, not four comparisons a byte: every answer runs this */
            size_t start = i;
            i = plain_run(p, i, n);
            put(b, p + start, i - start);
            continue;
        }
        if (c >= 0x80) {
            uint32_t cp;
            int l = cn_utf8_decode(p + i, n - i, &cp);
            if (l < 0) {
                cn_buf_append(b, "\\ufffd", 6); /* never emit invalid UTF-8 into a log or body */
                i++;
            } else {
                cn_buf_append(b, p + i, (size_t)l);
                i += (size_t)l;
            }
            continue;
        }
        char esc[6] = {'\\', 0};
        size_t el = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        cn_buf_append(b, esc, el);
        i++;
    }
}

void cn_buf_free(cn_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void cn_json_dump(const json_t *j, cn_buf_t *b)
{
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    cn_buf_reserve(b, 256);
    size_t avail = b->cap - b->len - 1;
    size_t need = json_dumpb(j, b->data + b->len, avail, flags);
    if (need > avail) { /* one more pass into a buffer of the exact size */
        cn_buf_reserve(b, need);
        need = json_dumpb(j, b->data + b->len, need, flags);
    }
    b->len += need;
    b->data[b->len] = '\0';
}

/* ---- streaming writer ---- */

void cn_jw_init(cn_jw_t *w, cn_buf_t *b)
{
    memset(w, 0, sizeof(*w));
    w->b = b;
}

static void jw_value_prefix(cn_jw_t *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth > 0 && w->has_items[w->depth - 1])
        put_lit(w->b, ",");
    if (w->depth > 0)
        w->has_items[w->depth - 1] = 1;
}

static void jw_open(cn_jw_t *w, char open, char close)
{
    jw_value_prefix(w);
    put(w->b, &open, 1);
    w->closer[w->depth] = close;
    w->has_items[w->depth++] = 0;
}

void cn_jw_object(cn_jw_t *w)
{
    jw_open(w, '{', '}');
}

void cn_jw_array(cn_jw_t *w)
{
    jw_open(w, '[', ']');
}

void cn_jw_end(cn_jw_t *w)
{
    w->depth--;
    put(w->b, &w->closer[w->depth], 1);
}

void cn_jw_key(cn_jw_t *w, const char *key)
{
    jw_value_prefix(w);
    /* keys are the program's names ("id", "created_at"): copied as they are, in one pass
     * that measures and checks them; a key that needs escaping takes the general path */
    size_t n = 0;
    unsigned char special = 0;
    while (key[n] != '\0')
        special |= json_special[(unsigned char)key[n++]];
    if (special) {
        put_lit(w->b, "\"");
        cn_buf_append_json_str(w->b, key, n);
        put_lit(w->b, "\":");
    } else {
        cn_buf_reserve(w->b, n + 3);
        char *d = w->b->data + w->b->len;
        d[0] = '"';
        memcpy(d + 1, key, n);
        d[n + 1] = '"';
        d[n + 2] = ':';
        d[n + 3] = '\0';
        w->b->len += n + 3;
    }
    w->after_key = 1;
}

void cn_jw_str(cn_jw_t *w, const char *s, size_t len)
{
    jw_value_prefix(w);
    put_lit(w->b, "\"");
    cn_buf_append_json_str(w->b, s, len);
    put_lit(w->b, "\"");
}

void cn_jw_raw(cn_jw_t *w, const char *json, size_t len)
{
    jw_value_prefix(w);
    cn_buf_append(w->b, json, len);
}

void cn_jw_real(cn_jw_t *w, double v)
{
    if (!isfinite(v)) { /* JSON has no NaN or infinity */
        cn_jw_null(w);
        return;
    }
    jw_value_prefix(w);
    char tmp[32];
    /* the shortest of %.15g / %.17g that reads back as the same double: 0.1, not 0.1000…01 */
    int n = snprintf(tmp, sizeof(tmp), "%.15g", v);
    if (strtod(tmp, NULL) != v)
        n = snprintf(tmp, sizeof(tmp), "%.17g", v);
    cn_buf_append(w->b, tmp, (size_t)n);
}

void cn_jw_int(cn_jw_t *w, int64_t v)
{
    jw_value_prefix(w);
    /* two digits per division: times are 13-digit milliseconds in most answers */
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
                                   "25262728293031323334353637383940414243444546474849"
                                   "50515253545556575859606162636465666768697071727374"
                                   "75767778798081828384858687888990919293949596979899";
    char tmp[24];
    size_t i = sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    while (u >= 100) {
        const char *pair = pairs + (u % 100) * 2;
        u /= 100;
        tmp[--i] = pair[1];
        tmp[--i] = pair[0];
    }
    if (u >= 10) {
        tmp[--i] = pairs[u * 2 + 1];
        tmp[--i] = pairs[u * 2];
    } else {
        tmp[--i] = (char)('0' + u);
    }
    if (v < 0)
        tmp[--i] = '-';
    put(w->b, tmp + i, sizeof(tmp) - i);
}

void cn_jw_null(cn_jw_t *w)
{
    jw_value_prefix(w);
    put_lit(w->b, "null");
}

void cn_jw_bool(cn_jw_t *w, int v)
{
    jw_value_prefix(w);
    if (v)
        put_lit(w->b, "true");
    else
        put_lit(w->b, "false");
}
