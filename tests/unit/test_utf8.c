/*
 * Unit tests for the shared UTF-8 decoder (src/lib/utf8.h): every boundary of Unicode's
 * Table 3-7 (overlong forms, surrogates, truncated sequences, values above U+10FFFF, stray
 * continuation bytes), the length of each maximal ill-formed subpart, and an exhaustive
 * comparison over every 1-, 2- and 3-byte input and every 4-byte lead with ICU's U8_NEXT,
 * an independent decoder that follows the same substitution rule.
 */
#include "lib/utf8.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <unicode/utf8.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    const char *bytes;
    int ret;     /* cn_utf8_decode's return */
    uint32_t cp; /* its code point */
} case_t;

static void check(const case_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = 0x12345;
        size_t len = strlen(c[i].bytes);
        int ret = cn_utf8_decode((const unsigned char *)c[i].bytes, len ? len : 1, &cp);
        if (ret != c[i].ret || cp != c[i].cp)
            fail_msg("case %zu: got %d U+%04X, want %d U+%04X", i, ret, cp, c[i].ret, c[i].cp);
    }
}

static void test_valid_boundaries(void **state)
{
    static const case_t cases[] = {
        {"", 1, 0}, /* NUL, decoded from a length of 1 */
        {"A", 1, 'A'},
        {"\x7f", 1, 0x7f},
        {"\xc2\x80", 2, 0x80},
        {"\xc3\xa9", 2, 0xe9},
        {"\xdf\xbf", 2, 0x7ff},
        {"\xe0\xa0\x80", 3, 0x800},
        {"\xe2\x82\xac", 3, 0x20ac},
        {"\xed\x9f\xbf", 3, 0xd7ff}, /* just below the surrogates */
        {"\xee\x80\x80", 3, 0xe000}, /* just above them */
        {"\xef\xbf\xbd", 3, 0xfffd},
        {"\xef\xbf\xbf", 3, 0xffff},
        {"\xf0\x90\x80\x80", 4, 0x10000},
        {"\xf0\x9f\x98\x80", 4, 0x1f600},
        {"\xf4\x8f\xbf\xbf", 4, 0x10ffff},
        {"\xc3\xa9tail", 2, 0xe9}, /* what follows is not read */
    };
    check(cases, N_OF(cases));
}

static void test_overlong_forms(void **state)
{
    static const case_t cases[] = {
        {"\xc0\x80", -1, 0xfffd},         /* NUL in two bytes */
        {"\xc1\xbf", -1, 0xfffd},         /* U+007F in two bytes */
        {"\xe0\x80\x80", -1, 0xfffd},     /* NUL in three */
        {"\xe0\x9f\xbf", -1, 0xfffd},     /* U+07FF in three */
        {"\xf0\x80\x80\x80", -1, 0xfffd}, /* NUL in four */
        {"\xf0\x8f\xbf\xbf", -1, 0xfffd}, /* U+FFFF in four */
    };
    check(cases, N_OF(cases));
}

static void test_surrogates(void **state)
{
    static const case_t cases[] = {
        {"\xed\xa0\x80", -1, 0xfffd}, /* U+D800 */
        {"\xed\xaf\xbf", -1, 0xfffd}, /* U+DBFF */
        {"\xed\xb0\x80", -1, 0xfffd}, /* U+DC00 */
        {"\xed\xbf\xbf", -1, 0xfffd}, /* U+DFFF */
        /* CESU-8's pair for U+1F600: two ill-formed surrogates, not one character */
        {"\xed\xa0\xbd\xed\xb8\x80", -1, 0xfffd},
    };
    check(cases, N_OF(cases));
}

static void test_truncated(void **state)
{
    static const case_t cases[] = {
        {"\xc3", -1, 0xfffd},
        {"\xe2\x82", -2, 0xfffd},
        {"\xe2", -1, 0xfffd},
        {"\xf0\x9f\x98", -3, 0xfffd},
        {"\xf0\x9f", -2, 0xfffd},
        /* cut by the next character: the maximal subpart ends before it */
        {"\xe2\x82"
         "A",
         -2, 0xfffd},
        {"\xf0\x9f\x98"
         "A",
         -3, 0xfffd},
        {"\xc3"
         "\xc3\xa9",
         -1, 0xfffd},
    };
    check(cases, N_OF(cases));
    /* a length that ends the sequence early, with valid bytes after it in memory */
    uint32_t cp;
    assert_int_equal(cn_utf8_decode((const unsigned char *)"\xe2\x82\xac", 2, &cp), -2);
    assert_int_equal(cp, 0xfffd);
    assert_int_equal(cn_utf8_decode((const unsigned char *)"\xc3\xa9", 1, &cp), -1);
}

static void test_beyond_u10ffff_and_strays(void **state)
{
    static const case_t cases[] = {
        {"\xf4\x90\x80\x80", -1, 0xfffd}, /* U+110000 */
        {"\xf4\xbf\xbf\xbf", -1, 0xfffd},
        {"\xf5\x80\x80\x80", -1, 0xfffd}, /* leads that can only make > U+10FFFF */
        {"\xf7\xbf\xbf\xbf", -1, 0xfffd},
        {"\xf8\x88\x80\x80\x80", -1, 0xfffd}, /* the old five- and six-byte forms */
        {"\xfc\x84\x80\x80\x80\x80", -1, 0xfffd},
        {"\xfe", -1, 0xfffd},
        {"\xff", -1, 0xfffd},
        {"\x80", -1, 0xfffd}, /* continuation bytes alone */
        {"\xbf", -1, 0xfffd},
    };
    check(cases, N_OF(cases));
}

/* Every input of one, two and three bytes, and four-byte inputs over every lead and
 * second byte, against ICU: same validity, same code point, same length consumed. */
static void test_agrees_with_icu(void **state)
{
    unsigned char s[4];
    size_t compared = 0;
    for (uint32_t v = 0; v < (1u << 24); v++) {
        s[0] = (unsigned char)(v >> 16);
        s[1] = (unsigned char)(v >> 8);
        s[2] = (unsigned char)v;
        s[3] = 0x80;
        for (int32_t len = 1; len <= 4; len++) {
            if (len == 4 && (s[2] != 0x80 && s[2] != 0xbf && s[2] != 0x41))
                continue; /* 4 bytes: the third byte at its edges is enough */
            if (len < 3 && (v & (len == 1 ? 0xffff : 0xff)) != 0)
                continue; /* shorter inputs: each prefix once */
            int32_t at = 0;
            UChar32 want;
            U8_NEXT(s, at, len, want);
            uint32_t got;
            int ret = cn_utf8_decode(s, (size_t)len, &got);
            int want_ret = want < 0 ? -at : at;
            uint32_t want_cp = want < 0 ? 0xfffd : (uint32_t)want;
            if (ret != want_ret || got != want_cp)
                fail_msg("%02x %02x %02x %02x (len %d): got %d U+%04X, ICU %d U+%04X", s[0], s[1],
                         s[2], s[3], len, ret, got, want_ret, want_cp);
            compared++;
        }
    }
    assert_true(compared > 16000000);
}

static void test_valid_and_count(void **state)
{
    assert_true(cn_utf8_valid("", 0));
    assert_true(cn_utf8_valid("plain", 5));
    assert_true(cn_utf8_valid("caf\xc3\xa9 \xf0\x9f\x98\x80", 10));
    assert_false(cn_utf8_valid("caf\xc3", 4));
    assert_false(cn_utf8_valid("\xed\xa0\x80", 3));
    assert_false(cn_utf8_valid("ok\xc0\x80", 4));
    assert_true(cn_utf8_valid("a\0b", 3)); /* NUL is a character; callers refuse it apart */
    assert_int_equal(cn_utf8_count("", 0), 0);
    assert_int_equal(cn_utf8_count("caf\xc3\xa9", 5), 4);
    assert_int_equal(cn_utf8_count("\xf0\x9f\x98\x80\xe2\x82\xac", 7), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_boundaries),
        cmocka_unit_test(test_overlong_forms),
        cmocka_unit_test(test_surrogates),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_beyond_u10ffff_and_strays),
        cmocka_unit_test(test_agrees_with_icu),
        cmocka_unit_test(test_valid_and_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
