/*
 * UTF-8 decoding, the one decoder of the tree: JSON escaping, request-schema checks, VADER's
 * tokenizer and mail headers all read characters through it, so they agree on what a
 * well-formed character is (Unicode's Table 3-7: no overlong form, no surrogate, nothing
 * above U+10FFFF). Pure functions; nothing from the rest of Cairn. The streaming CSV reader
 * keeps its own validator: it must carry a half-read character across input chunks.
 */
#ifndef CAIRN_LIB_UTF8_H
#define CAIRN_LIB_UTF8_H

#include <stddef.h>
#include <stdint.h>

/** U+FFFD, the code point cn_utf8_decode stores for bytes that do not make a character. */
#define CN_UTF8_REPLACEMENT 0xFFFDu

/**
 * Decodes the character at s[0..len) (len >= 1). A well-formed character stores its code
 * point in *cp and returns its length (1..4). Anything else stores U+FFFD and returns minus
 * the length of its maximal ill-formed subpart (-1..-3): the bytes that WHATWG decoders
 * (Node, browsers) and ICU replace with one U+FFFD. Inline because JSON escaping and
 * VADER's tokenizer call it for every character beyond ASCII (a caller that only checks
 * the sign lets the compiler drop the code point arithmetic).
 */
static inline int cn_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char b = s[0], lo = 0x80, hi = 0xBF;
    int n;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b < 0xC2 || b > 0xF4) { /* a continuation byte, C0, C1 (overlong) or F5..FF */
        *cp = CN_UTF8_REPLACEMENT;
        return -1;
    }
    if (b < 0xE0) {
        n = 2;
    } else if (b < 0xF0) {
        n = 3;
        lo = b == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        hi = b == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else {
        n = 4;
        lo = b == 0xF0 ? 0x90 : 0x80; /* no overlong forms */
        hi = b == 0xF4 ? 0x8F : 0xBF; /* nothing above U+10FFFF */
    }
    /* only the second byte has a narrower range; the others are any continuation byte */
    if (len < 2 || s[1] < lo || s[1] > hi) {
        *cp = CN_UTF8_REPLACEMENT;
        return -1;
    }
    uint32_t c = (uint32_t)(b & (0x7F >> n)) << 6 | (s[1] & 0x3Fu);
    for (int i = 2; i < n; i++) {
        if ((size_t)i >= len || (s[i] & 0xC0) != 0x80) {
            *cp = CN_UTF8_REPLACEMENT;
            return -i;
        }
        c = c << 6 | (s[i] & 0x3Fu);
    }
    *cp = c;
    return n;
}

/** 1 when s[0..len) is well-formed UTF-8 throughout (an empty string is). */
int cn_utf8_valid(const char *s, size_t len);

/**
 * The number of characters of s[0..len), counting the bytes that are not continuation
 * bytes: exact for well-formed UTF-8, which is what callers pass (jansson's strings).
 */
size_t cn_utf8_count(const char *s, size_t len);

#endif
