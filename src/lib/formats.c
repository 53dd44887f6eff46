/*
 * Wire-format validators (see formats.h). Everything here is a pure function of its
 * arguments so the fuzzers and unit tests can drive it without a server.
 */
#include "lib/formats.h"
#include "lib/civil.h"

#include <sodium.h>
#include <string.h>

/* 1 for the hex digits: every request with an id in its path checks it here */
static const unsigned char hex_digit[256] = {
    ['0' ... '9'] = 1,
    ['a' ... 'f'] = 1,
    ['A' ... 'F'] = 1,
};

int cn_is_uuid(const char *s, size_t len)
{
    if (len != CN_UUID_LEN || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        return 0;
    const unsigned char *u = (const unsigned char *)s;
    unsigned ok = 1;
    for (size_t i = 0; i < 8; i++)
        ok &= hex_digit[u[i]];
    for (size_t i = 9; i < 13; i++)
        ok &= hex_digit[u[i]] & hex_digit[u[i + 5]] & hex_digit[u[i + 10]];
    for (size_t i = 24; i < 36; i++)
        ok &= hex_digit[u[i]];
    return (int)ok;
}

static int is_email_char(unsigned char c)
{
    return c > ' ' && c < 0x7f && c != '@' && c != '(' && c != ')' && c != ',' && c != ':' &&
           c != ';' && c != '<' && c != '>' && c != '[' && c != ']' && c != '\\' && c != '"';
}

int cn_is_email(const char *s, size_t len)
{
    if (len < 3 || len > 254)
        return 0;
    const char *at = memchr(s, '@', len);
    if (at == NULL || at == s)
        return 0;
    size_t local_len = (size_t)(at - s), domain_len = len - local_len - 1;
    if (local_len > 64 || domain_len < 3)
        return 0;
    for (size_t i = 0; i < local_len; i++) {
        if (!is_email_char((unsigned char)s[i]) && (unsigned char)s[i] < 0x80)
            return 0;
        if (s[i] == '.' && (i == 0 || i == local_len - 1 || s[i - 1] == '.'))
            return 0;
    }
    const char *d = at + 1;
    int has_dot = 0;
    for (size_t i = 0; i < domain_len; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c == '.') {
            if (i == 0 || i == domain_len - 1 || d[i - 1] == '.' || d[i - 1] == '-' ||
                d[i + 1] == '-')
                return 0;
            has_dot = 1;
        } else if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9') || c == '-')) {
            return 0;
        }
    }
    return has_dot && d[0] != '-' && d[domain_len - 1] != '-';
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int cn_parse_rfc3339(const char *s, size_t len, int64_t *out_ms)
{
    int y, mo, d, h, mi, sec;
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > cn_days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return -1;
    size_t i = 19;
    int ms = 0;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3)
                ms = ms * 10 + (s[i] - '0');
            i++;
        }
        if (i == start || i - start > 9)
            return -1;
        for (size_t k = i - start; k < 3; k++)
            ms *= 10;
    }
    if (i >= len)
        return -1;
    int offset_min = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int oh, om;
        if (len - i != 6 || s[i + 3] != ':' || digits(s + i + 1, 2, &oh) ||
            digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return -1;
    }
    if (i != len)
        return -1;
    if (sec == 60) /* leap second: accepted and folded onto the next second, as POSIX time does */
        sec = 59, ms = 999;
    int64_t secs = cn_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    *out_ms = (secs - (int64_t)offset_min * 60) * 1000 + ms;
    return 0;
}

size_t cn_format_rfc3339(int64_t ms, char *buf)
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int msec = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t rem = secs - days * 86400;
    int64_t y;
    int m, d;
    cn_civil_from_days(days, &y, &m, &d);
    int h = (int)(rem / 3600), mi = (int)(rem % 3600 / 60), sec = (int)(rem % 60);
    char *p = buf;
    int vals[] = {(int)y, m, d, h, mi, sec, msec};
    int widths[] = {4, 2, 2, 2, 2, 2, 3};
    const char seps[] = "--T::.Z";
    for (int k = 0; k < 7; k++) {
        int v = vals[k];
        for (int w = widths[k] - 1; w >= 0; w--) {
            p[w] = (char)('0' + v % 10);
            v /= 10;
        }
        p += widths[k];
        *p++ = seps[k];
    }
    *p = '\0';
    return (size_t)(p - buf);
}

void cn_uuid7_format(int64_t unix_ms, const uint8_t random[10], char out[CN_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    uint64_t t = (uint64_t)unix_ms;
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(t >> (40 - 8 * i));
    memcpy(b + 6, random, 10);
    b[6] = (uint8_t)(0x70 | (b[6] & 0x0f)); /* version 7 */
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f)); /* RFC 9562 variant */
    /* where each byte's two digits go: every request id is one of these */
    static const unsigned char at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
    for (int i = 0; i < 16; i++) {
        out[at[i]] = hex[b[i] >> 4];
        out[at[i] + 1] = hex[b[i] & 15];
    }
    out[8] = out[13] = out[18] = out[23] = '-';
    out[CN_UUID_LEN] = '\0';
}

size_t cn_base64url_encode(const uint8_t *in, size_t len, char *out)
{
    const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    size_t cap = sodium_base64_ENCODED_LEN(len, variant); /* the text and its NUL */
    sodium_bin2base64(out, cap, in, len, variant);
    return cap - 1;
}

long cn_base64url_decode(const char *in, size_t len, uint8_t *out)
{
    /* libsodium 1.0.18 (Debian 12) takes a byte >= 0x80 for '_' or '-' (its constant-time
     * compare sees a sign-extended char), so such bytes are refused first, without a branch
     * per byte */
    unsigned char high = 0;
    for (size_t i = 0; i < len; i++)
        high |= (unsigned char)in[i];
    if (high & 0x80)
        return -1;
    size_t n = 0;
    /* libsodium refuses a length of 4k+1 and leftover bits that are not zero, so no two
     * texts decode alike; with no end pointer, any character outside the alphabet fails */
    if (sodium_base642bin(out, len / 4 * 3 + (len % 4) * 3 / 4, in, len, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    return (long)n;
}

/* The variable-time codec, for data that is not secret (see formats.h). */
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t cn_base64url_encode_fast(const uint8_t *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
        out[o++] = b64url[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = b64url[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long cn_base64url_decode_fast(const char *in, size_t len, uint8_t *out)
{
    if (len % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* leftover bits must be zero, otherwise two encodings would decode alike */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return -1;
    return (long)o;
}
