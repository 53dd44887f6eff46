/*
 * Unit tests for the wire formats (src/lib/formats.h): UUID and e-mail checks, RFC 3339
 * parsing and formatting, UUIDv7 layout and base64url. Known values are computed by hand
 * or taken from RFC 4648 section 10.
 */
#include "lib/formats.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int is_uuid(const char *s)
{
    return cn_is_uuid(s, strlen(s));
}

static int is_email(const char *s)
{
    return cn_is_email(s, strlen(s));
}

static int parse(const char *s, int64_t *ms)
{
    return cn_parse_rfc3339(s, strlen(s), ms);
}

/* ---- cn_is_uuid ---- */

static void test_uuid(void **state)
{
    assert_true(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
    assert_true(is_uuid("00000000-0000-0000-0000-000000000000"));
    assert_true(is_uuid("ABCDEF01-2345-6789-ABCD-EF0123456789"));
    assert_true(is_uuid("017f22e2-79b0-7cc3-98c4-dc0c0c07398f"));

    static const char *const bad[] = {
        "",
        "123e4567-e89b-12d3-a456-42661417400",   /* 35 chars */
        "123e4567-e89b-12d3-a456-4266141740000", /* 37 chars */
        "123e4567e89b12d3a456426614174000",      /* no dashes */
        "123e4567-e89b-12d3-a456_426614174000",  /* wrong separator */
        "123e456-7e89b-12d3-a456-426614174000",  /* dash moved */
        "123e4567-e89b-12d3-a456-42661417400g",  /* not hex */
        "{23e4567-e89b-12d3-a456-42661417400}",
        " 23e4567-e89b-12d3-a456-426614174000",
    };
    for (size_t i = 0; i < N_OF(bad); i++)
        if (is_uuid(bad[i]))
            fail_msg("\"%s\" accepted as a UUID", bad[i]);

    /* a bad byte at each of the 32 digit positions, one at a time */
    for (size_t at = 0; at < CN_UUID_LEN; at++) {
        if (at == 8 || at == 13 || at == 18 || at == 23)
            continue;
        char s[CN_UUID_LEN + 1] = "123e4567-e89b-12d3-a456-426614174000";
        s[at] = 'g';
        if (is_uuid(s))
            fail_msg("\"%s\" accepted as a UUID (position %zu)", s, at);
        s[at] = '\xc3';
        if (is_uuid(s))
            fail_msg("a byte 0xc3 at position %zu accepted", at);
    }

    /* the length argument is authoritative */
    assert_false(cn_is_uuid("123e4567-e89b-12d3-a456-426614174000", 35));
    assert_true(cn_is_uuid("123e4567-e89b-12d3-a456-426614174000trailing", CN_UUID_LEN));
}

/* ---- cn_is_email ---- */

static void test_email(void **state)
{
    static const char *const good[] = {
        "a@b.co",
        "ann@example.org",
        "first.last+tag@mail.example.co.uk",
        "x_y-z@sub-domain.example",
        "o'brien@example.ie",
        "user@xn--bcher-kva.example",
        "\xc3\xa9t\xc3\xa9@exemple.fr", /* internationalised local part */
    };
    /* too short; no dot in the domain; empty local part or domain; dots at the ends of the
     * domain or doubled; spaces; a second '@'; '_' in the domain; specials in the local part */
    static const char *const bad[] = {
        "",         "a",        "a@b",       "@b.co",    "a@",      "a@.co",
        "a@b.co.",  "a@b..co",  "a b@c.de",  "a@b c.de", "a@@b.co", "a@b@c.co",
        "a@b_c.de", "<a@b.co>", "a\"b@c.de", "a@b.co\n",
    };
    for (size_t i = 0; i < N_OF(good); i++)
        if (!is_email(good[i]))
            fail_msg("\"%s\" rejected", good[i]);
    for (size_t i = 0; i < N_OF(bad); i++)
        if (is_email(bad[i]))
            fail_msg("\"%s\" accepted as an e-mail address", bad[i]);
}

static void test_email_lengths(void **state)
{
    char buf[300];
    /* a 64-byte local part is the limit */
    memset(buf, 'l', 64);
    strcpy(buf + 64, "@example.org");
    assert_true(is_email(buf));
    memset(buf, 'l', 65);
    strcpy(buf + 65, "@example.org");
    assert_false(is_email(buf));

    /* 254 bytes in all is the limit */
    memset(buf, 'd', sizeof(buf));
    memcpy(buf, "a@", 2);
    memcpy(buf + 250, ".com", 4);
    assert_true(cn_is_email(buf, 254));
    memset(buf, 'd', sizeof(buf));
    memcpy(buf, "a@", 2);
    memcpy(buf + 251, ".com", 4);
    assert_false(cn_is_email(buf, 255));
}

/* ---- cn_parse_rfc3339 ---- */

static void expect_ms(const char *text, int64_t want)
{
    int64_t ms = -123456789;
    if (parse(text, &ms) != 0)
        fail_msg("\"%s\" rejected", text);
    if (ms != want)
        fail_msg("\"%s\" parsed to %lld, want %lld", text, (long long)ms, (long long)want);
}

static void test_rfc3339_valid(void **state)
{
    expect_ms("1970-01-01T00:00:00Z", 0);
    expect_ms("2000-02-29T00:00:00Z", 951782400000);
    expect_ms("2000-02-29t00:00:00z", 951782400000);
    expect_ms("2024-02-29T12:00:00Z", 1709208000000);
    expect_ms("1969-12-31T23:59:59Z", -1000);
    expect_ms("2038-01-19T03:14:08Z", 2147483648000);
    expect_ms("9999-12-31T23:59:59.999Z", 253402300799999);
}

static void test_rfc3339_fractions(void **state)
{
    expect_ms("2000-02-29T00:00:00.123Z", 951782400123);
    expect_ms("2000-02-29T00:00:00.1Z", 951782400100);
    expect_ms("2000-02-29T00:00:00.12Z", 951782400120);
    expect_ms("2000-02-29T00:00:00.000Z", 951782400000);
    /* digits beyond milliseconds are truncated, up to nanoseconds */
    expect_ms("2000-02-29T00:00:00.123456789Z", 951782400123);
    expect_ms("2000-02-29T00:00:00.9999Z", 951782400999);
}

static void test_rfc3339_offsets(void **state)
{
    expect_ms("2000-02-29T02:00:00+02:00", 951782400000);
    expect_ms("2000-02-28T22:30:00-01:30", 951782400000); /* crosses midnight and month */
    expect_ms("2000-02-29T00:00:00+00:00", 951782400000);
    expect_ms("2000-02-29T00:00:00-00:00", 951782400000);
    expect_ms("1970-01-01T05:45:00.250+05:45", 250);
    expect_ms("1969-12-31T14:00:00-10:00", 0);
    expect_ms("2000-03-01T09:59:00+23:59", 951818400000); /* 2000-02-29T10:00:00Z */
}

static void test_rfc3339_leap_second(void **state)
{
    /* folded onto the last millisecond of the minute, as POSIX time has no :60 */
    expect_ms("2016-12-31T23:59:60Z", 1483228799999);
}

static void test_rfc3339_invalid(void **state)
{
    static const char *const bad[] = {
        "2024-13-01T00:00:00Z", /* month 13 */
        "2024-00-01T00:00:00Z", /* month 0 */
        "2024-01-00T00:00:00Z", /* day 0 */
        "2024-01-32T00:00:00Z",
        "2023-02-29T00:00:00Z", /* not a leap year */
        "1900-02-29T00:00:00Z", /* century, not a leap year */
        "2024-02-30T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:60:00Z",
        "2024-01-01T00:00:61Z",
        "2024-01-01T00:00:00",             /* missing zone */
        "2024-01-01T00:00:00.123",         /* missing zone after a fraction */
        "2024-01-01T00:00:00.Z",           /* empty fraction */
        "2024-01-01T00:00:00.1234567891Z", /* more than nanoseconds */
        "2024-01-01T00:00:00+0200",        /* offset without a colon */
        "2024-01-01T00:00:00+02000",
        "2024-01-01T00:00:00+02-00",
        "2024-01-01T00:00:00+02",
        "2024-01-01T00:00:00+24:00",
        "2024-01-01T00:00:00+02:60",
        "2024-01-01T00:00:00Zjunk",
        "2024-01-01T00:00:00+02:00junk",
        "2024-01-01X00:00:00Z",
        "2024/01/01T00:00:00Z",
        "2024-1-01T00:00:00Z",
        "24-01-01T00:00:00Z",
        "2024-01-01T0:00:00Z",
        "2024-01-01",
        "",
        "not a date at all!!!",
        "2024-01-01T00:00:00 Z",
        "+2024-01-01T00:00:00Z",
    };
    for (size_t i = 0; i < N_OF(bad); i++) {
        int64_t ms = 42;
        if (parse(bad[i], &ms) == 0)
            fail_msg("\"%s\" accepted (%lld)", bad[i], (long long)ms);
    }
    /* Feb 29 is valid exactly in leap years */
    int64_t ms;
    assert_int_equal(parse("2024-02-29T00:00:00Z", &ms), 0);
    assert_int_equal(parse("2000-02-29T00:00:00Z", &ms), 0);
    /* the length argument is authoritative: the zone is cut off here */
    assert_int_equal(cn_parse_rfc3339("2024-01-01T00:00:00Z", 19, &ms), -1);
}

/* ---- cn_format_rfc3339 ---- */

static void expect_format(int64_t ms, const char *want)
{
    char buf[32];
    memset(buf, 'x', sizeof(buf));
    size_t n = cn_format_rfc3339(ms, buf);
    assert_int_equal(n, 24);
    assert_int_equal(strlen(buf), 24);
    if (strcmp(buf, want) != 0)
        fail_msg("%lld formatted as %s, want %s", (long long)ms, buf, want);
}

static void test_format_known_values(void **state)
{
    expect_format(0, "1970-01-01T00:00:00.000Z");
    expect_format(951782400000, "2000-02-29T00:00:00.000Z");
    expect_format(1709208000123, "2024-02-29T12:00:00.123Z");
    expect_format(951868799999, "2000-02-29T23:59:59.999Z");
    expect_format(951868800000, "2000-03-01T00:00:00.000Z");
    expect_format(1483228799999, "2016-12-31T23:59:59.999Z");
    expect_format(253402300799999, "9999-12-31T23:59:59.999Z");
    expect_format(-1, "1969-12-31T23:59:59.999Z");
    expect_format(-1000, "1969-12-31T23:59:59.000Z");
    expect_format(-86400000, "1969-12-31T00:00:00.000Z");
}

static void test_format_parse_round_trip(void **state)
{
    static const int64_t values[] = {
        0,
        1,
        999,
        1000,
        86399999,
        86400000,
        951782400000,
        951782400123,
        1709208000123,
        4102444800000, /* 2100-01-01, not a leap year */
        -1,
        -999,
        -1001,
        -86400001,
        -2208988800000, /* 1900-01-01 */
    };
    for (size_t i = 0; i < N_OF(values); i++) {
        char buf[32];
        int64_t back = 0;
        cn_format_rfc3339(values[i], buf);
        if (parse(buf, &back) != 0 || back != values[i])
            fail_msg("%lld -> %s -> %lld", (long long)values[i], buf, (long long)back);
    }
    /* and a sweep over four years in steps that hit every day at varying times */
    for (int64_t ms = 946684800000; ms < 1072915200000; ms += 86400000 + 3600123) {
        char buf[32];
        int64_t back = 0;
        cn_format_rfc3339(ms, buf);
        if (parse(buf, &back) != 0 || back != ms)
            fail_msg("%lld -> %s -> %lld", (long long)ms, buf, (long long)back);
    }
}

/* ---- cn_uuid7_format ---- */

static void test_uuid7_layout(void **state)
{
    char out[CN_UUID_LEN + 1];
    const int64_t ms = 0x0123456789ab;

    const uint8_t zeros[10] = {0};
    cn_uuid7_format(ms, zeros, out);
    assert_string_equal(out, "01234567-89ab-7000-8000-000000000000");

    const uint8_t ones[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    cn_uuid7_format(ms, ones, out);
    assert_string_equal(out, "01234567-89ab-7fff-bfff-ffffffffffff");

    /* random bits outside the version and variant fields are kept */
    const uint8_t mixed[10] = {0xa5, 0x5a, 0x3c, 0xc3, 1, 2, 3, 4, 5, 6};
    cn_uuid7_format(ms, mixed, out);
    assert_string_equal(out, "01234567-89ab-755a-bcc3-010203040506");
    assert_true(cn_is_uuid(out, strlen(out)));
}

static void test_uuid7_version_variant_and_time_prefix(void **state)
{
    static const int64_t times[] = {0, 1, 1709208000123, 0xffffffffffff};
    static const char *const prefixes[] = {"00000000-0000", "00000000-0001", "018df4bc-567b",
                                           "ffffffff-ffff"};
    uint8_t rnd[10];
    for (size_t t = 0; t < N_OF(times); t++) {
        for (int k = 0; k < 16; k++) {
            for (int i = 0; i < 10; i++)
                rnd[i] = (uint8_t)(k * 17 + i * 29);
            char out[CN_UUID_LEN + 1];
            cn_uuid7_format(times[t], rnd, out);
            assert_int_equal(strlen(out), CN_UUID_LEN);
            assert_true(cn_is_uuid(out, CN_UUID_LEN));
            assert_memory_equal(out, prefixes[t], 13);
            assert_int_equal(out[14], '7');
            assert_non_null(strchr("89ab", out[19]));
            for (const char *p = out; *p; p++)
                assert_true(*p == '-' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
        }
    }
}

static void test_uuid7_sorts_by_time(void **state)
{
    const uint8_t hi[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const uint8_t lo[10] = {0};
    char a[CN_UUID_LEN + 1], b[CN_UUID_LEN + 1];
    cn_uuid7_format(1709208000123, hi, a);
    cn_uuid7_format(1709208000124, lo, b);
    assert_true(strcmp(a, b) < 0);
}

/* ---- base64url: libsodium's constant-time codec and the table codec, held to one spec ---- */

typedef struct {
    const char *name;
    size_t (*encode)(const uint8_t *in, size_t len, char *out);
    long (*decode)(const char *in, size_t len, uint8_t *out);
} codec_t;

static const codec_t codecs[] = {
    {"libsodium", cn_base64url_encode, cn_base64url_decode},
    {"table", cn_base64url_encode_fast, cn_base64url_decode_fast},
};

static void expect_b64(const codec_t *c, const char *raw, const char *want)
{
    char out[64];
    size_t n = c->encode((const uint8_t *)raw, strlen(raw), out);
    if (n != strlen(want) || strcmp(out, want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", c->name, out, want);
}

static void test_base64url_known_vectors(void **state)
{
    for (size_t k = 0; k < N_OF(codecs); k++) {
        const codec_t *c = &codecs[k];
        /* RFC 4648 section 10, without padding */
        expect_b64(c, "", "");
        expect_b64(c, "f", "Zg");
        expect_b64(c, "fo", "Zm8");
        expect_b64(c, "foo", "Zm9v");
        expect_b64(c, "foob", "Zm9vYg");
        expect_b64(c, "fooba", "Zm9vYmE");
        expect_b64(c, "foobar", "Zm9vYmFy");
        /* the URL-safe alphabet: '-' and '_' instead of '+' and '/' */
        expect_b64(c, "\xfb\xff", "-_8");
        expect_b64(c, "\xff\xff\xff", "____");
        expect_b64(c, "\xfb\xef\xbe", "----");
    }
}

static void test_base64url_round_trip_lengths(void **state)
{
    for (size_t k = 0; k < N_OF(codecs); k++) {
        const codec_t *c = &codecs[k];
        uint8_t in[20], back[20];
        char enc[32];
        for (size_t len = 0; len <= 20; len++) {
            for (size_t i = 0; i < len; i++)
                in[i] = (uint8_t)(i * 37 + len * 11 + 0xf0);
            size_t n = c->encode(in, len, enc);
            assert_int_equal(n, (len * 4 + 2) / 3);
            assert_int_equal(enc[n], '\0');
            assert_int_not_equal(n % 4, 1);
            memset(back, 0xaa, sizeof(back));
            long m = c->decode(enc, n, back);
            if (m != (long)len)
                fail_msg("%s, length %zu: \"%s\" decoded to %ld bytes", c->name, len, enc, m);
            assert_memory_equal(back, in, len);
            if (len < sizeof(back))
                assert_int_equal(back[len], 0xaa); /* nothing written past the end */
        }
    }
}

static void test_base64url_rejects(void **state)
{
    /* length % 4 == 1 (even with all-zero bits); padding and standard-alphabet characters;
     * whitespace; non-zero trailing bits ("Zh" would alias "Zg", "Zm9" alias "Zm8") */
    static const char *const bad[] = {
        "Z",
        "A",
        "Zm9vA",
        "Zm9vY",
        "Zm9vYmFyZ",
        "Zg==",
        "Zm9v+w",
        "Zm9v/w",
        "Zm 9",
        "Zm8\n",
        "Zh",
        "Zm9",
        /* bytes with the high bit set (libsodium 1.0.18 alone reads them as '_' or '-') */
        "Zm\x80v",
        "Zm9\xff",
        "\xdf\xbf",
        "QUFB\xad\xdf",
    };
    for (size_t k = 0; k < N_OF(codecs); k++) {
        const codec_t *c = &codecs[k];
        uint8_t out[16];
        for (size_t i = 0; i < N_OF(bad); i++)
            if (c->decode(bad[i], strlen(bad[i]), out) != -1)
                fail_msg("%s: \"%s\" decoded", c->name, bad[i]);
        assert_int_equal(c->decode("", 0, out), 0);
        assert_int_equal(c->decode("Zm8", 3, out), 2);
        assert_memory_equal(out, "fo", 2);
        assert_int_equal(c->decode("-_8", 3, out), 2);
        assert_memory_equal(out, "\xfb\xff", 2);
    }
}

/* The two codecs agree on every input: random bytes encode alike, and random texts over
 * the alphabet plus a few strangers ('=', '+', NUL, 0xff) decode alike or fail alike. */
static void test_base64url_codecs_agree(void **state)
{
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                                "=+/ \xff";
    uint32_t seed = 12345;
    for (int round = 0; round < 20000; round++) {
        uint8_t raw[48], a[48], b[48];
        char ea[80], eb[80], text[64];
        size_t len = (size_t)(round % 48);
        for (size_t i = 0; i < len; i++)
            raw[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
        size_t na = cn_base64url_encode(raw, len, ea), nb = cn_base64url_encode_fast(raw, len, eb);
        assert_int_equal(na, nb);
        assert_string_equal(ea, eb);
        size_t tlen = (size_t)(round % 63);
        for (size_t i = 0; i < tlen; i++) {
            seed = seed * 1103515245u + 12345u;
            /* mostly the alphabet, so that valid texts are common */
            size_t pick = (seed >> 16) % 100 < 97 ? (seed >> 8) % 64 : 64 + (seed >> 8) % 6;
            text[i] = chars[pick]; /* chars[69] is the NUL */
        }
        long da = cn_base64url_decode(text, tlen, a), db = cn_base64url_decode_fast(text, tlen, b);
        if (da != db)
            fail_msg("\"%.*s\" (%zu): libsodium %ld, table %ld", (int)tlen, text, tlen, da, db);
        if (da > 0)
            assert_memory_equal(a, b, (size_t)da);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_email_lengths),
        cmocka_unit_test(test_rfc3339_valid),
        cmocka_unit_test(test_rfc3339_fractions),
        cmocka_unit_test(test_rfc3339_offsets),
        cmocka_unit_test(test_rfc3339_leap_second),
        cmocka_unit_test(test_rfc3339_invalid),
        cmocka_unit_test(test_format_known_values),
        cmocka_unit_test(test_format_parse_round_trip),
        cmocka_unit_test(test_uuid7_layout),
        cmocka_unit_test(test_uuid7_version_variant_and_time_prefix),
        cmocka_unit_test(test_uuid7_sorts_by_time),
        cmocka_unit_test(test_base64url_known_vectors),
        cmocka_unit_test(test_base64url_round_trip_lengths),
        cmocka_unit_test(test_base64url_rejects),
        cmocka_unit_test(test_base64url_codecs_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
