/*
 * Unit tests for the JSON helpers (src/core/json.h): parser options and error messages,
 * the growable buffer, JSON string escaping and compact dumping.
 */
#include "core/json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static json_t *parse(const char *text, cn_err_t *err)
{
    memset(err, 0, sizeof(*err));
    return cn_json_parse(text, strlen(text), err);
}

/* ---- cn_json_parse ---- */

static void test_parse_valid(void **state)
{
    cn_err_t err;
    json_t *j = parse("{\"a\": [1, 2.5, {\"b\": null}], \"c\": \"d\\u00e9\"}", &err);
    assert_non_null(j);
    assert_int_equal(err.code, 0);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "a"), 0)), 1);
    assert_string_equal(json_string_value(json_object_get(j, "c")), "d\xc3\xa9");
    json_decref(j);

    /* only len bytes are parsed */
    const char *text = "[1]garbage";
    j = cn_json_parse(text, 3, &err);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
}

static void test_parse_error_has_line_and_column(void **state)
{
    cn_err_t err;
    assert_null(parse("{\n  \"a\": 1,\n  \"b\": }", &err));
    assert_int_equal(err.code, CN_EINVAL);
    assert_non_null(strstr(err.msg, "malformed JSON at line 3, column 8: "));

    assert_null(parse("{\"a\" 1}", &err));
    assert_int_equal(err.code, CN_EINVAL);
    assert_non_null(strstr(err.msg, "malformed JSON at line 1, column 6: "));
}

static void test_parse_rejects_malformed(void **state)
{
    static const char *const bad[] = {"",    "{",    "[1, 2",      "{} x", "{\"a\": tru}",
                                      "'a'", "[1,]", "{\"a\":1,}", "01",   "NaN"};
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
        cn_err_t err;
        json_t *j = parse(bad[i], &err);
        if (j != NULL) {
            json_decref(j);
            fail_msg("\"%s\" was accepted", bad[i]);
        }
        assert_int_equal(err.code, CN_EINVAL);
        assert_true(strncmp(err.msg, "malformed JSON at line 1, column ", 33) == 0);
    }
}

static void test_parse_rejects_duplicate_keys(void **state)
{
    cn_err_t err;
    assert_null(parse("{\"a\": 1, \"a\": 2}", &err));
    assert_int_equal(err.code, CN_EINVAL);
    assert_non_null(strstr(err.msg, "duplicate"));
    /* also in nested objects */
    assert_null(parse("{\"o\": {\"k\": 1, \"k\": 1}}", &err));
    assert_int_equal(err.code, CN_EINVAL);
    /* the same key in sibling objects is fine */
    json_t *j = parse("[{\"k\": 1}, {\"k\": 2}]", &err);
    assert_non_null(j);
    json_decref(j);
}

static char *nested(size_t depth, char open, char close)
{
    char *s = malloc(2 * depth + 1);
    assert_non_null(s);
    memset(s, open, depth);
    memset(s + depth, close, depth);
    s[2 * depth] = '\0';
    return s;
}

static void test_parse_rejects_deep_nesting(void **state)
{
    cn_err_t err;
    char *deep = nested(10000, '[', ']');
    json_t *j = cn_json_parse(deep, strlen(deep), &err);
    assert_null(j);
    assert_int_equal(err.code, CN_EINVAL);
    assert_non_null(strstr(err.msg, "malformed JSON at line 1, column "));
    free(deep);

    /* objects nest the same way */
    size_t depth = 10000, o = 0;
    char *objs = malloc(depth * 6 + 2);
    assert_non_null(objs);
    for (size_t i = 0; i < depth; i++)
        memcpy(objs + o, "{\"a\":", 5), o += 5;
    objs[o++] = '1';
    memset(objs + o, '}', depth);
    o += depth;
    j = cn_json_parse(objs, o, &err);
    assert_null(j);
    assert_int_equal(err.code, CN_EINVAL);
    free(objs);

    /* moderate nesting is still accepted */
    char *ok = nested(100, '[', ']');
    j = cn_json_parse(ok, strlen(ok), &err);
    assert_non_null(j);
    json_decref(j);
    free(ok);
}

static void test_parse_rejects_invalid_utf8(void **state)
{
    static const char *const bad[] = {
        "\"\xff\"",             /* never valid */
        "\"a\xc3\"",            /* truncated sequence */
        "\"\xc0\x80\"",         /* overlong NUL */
        "\"\xed\xa0\x80\"",     /* UTF-16 surrogate */
        "\"\xf4\x90\x80\x80\"", /* above U+10FFFF */
        "{\"k\xff\": 1}",       /* in a key */
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
        cn_err_t err;
        json_t *j = parse(bad[i], &err);
        if (j != NULL) {
            json_decref(j);
            fail_msg("invalid UTF-8 case %zu was accepted", i);
        }
        assert_int_equal(err.code, CN_EINVAL);
    }
    cn_err_t err;
    json_t *j = parse("\"\xe2\x82\xac \xf0\x9f\x98\x80\"", &err);
    assert_non_null(j);
    json_decref(j);
}

/* ---- cn_buf_t ---- */

static void test_buf_append_and_grow(void **state)
{
    cn_buf_t b = {0};
    cn_buf_lit(&b, "abc");
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");

    cn_buf_appendf(&b, "-%d-%s", 42, "x");
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "abc-42-x");

    char chunk[1000];
    memset(chunk, 'z', sizeof(chunk));
    cn_buf_append(&b, chunk, sizeof(chunk));
    assert_int_equal(b.len, 1008);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[1007], 'z');
    assert_int_equal(b.data[1008], '\0');
    assert_memory_equal(b.data, "abc-42-x", 8);

    cn_buf_appendf(&b, "%0600d", 7);
    assert_int_equal(b.len, 1608);
    assert_int_equal(b.data[1607], '7');
    assert_int_equal(b.data[1608], '\0');

    cn_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

/* ---- cn_buf_append_json_str ---- */

/* Escapes n bytes of s and compares the result with want. */
static void expect_escaped(const char *s, size_t n, const char *want)
{
    cn_buf_t b = {0};
    cn_buf_lit(&b, "<");
    cn_buf_append_json_str(&b, s, n);
    cn_buf_lit(&b, ">");
    size_t wlen = strlen(want);
    if (b.len != wlen + 2 || memcmp(b.data + 1, want, wlen) != 0 || b.data[wlen + 1] != '>')
        fail_msg("escaped to %s, want <%s>", b.data, want);
    cn_buf_free(&b);
}

#define EXPECT_ESCAPED(lit, want) expect_escaped((lit), sizeof(lit) - 1, (want))

static void test_json_str_plain_and_quotes(void **state)
{
    EXPECT_ESCAPED("plain text", "plain text");
    EXPECT_ESCAPED("", "");
    EXPECT_ESCAPED("say \"hi\"", "say \\\"hi\\\"");
    EXPECT_ESCAPED("back\\slash", "back\\\\slash");
    EXPECT_ESCAPED("/ and ~ and \x7f", "/ and ~ and \x7f");
}

static void test_json_str_control_chars(void **state)
{
    EXPECT_ESCAPED("a\nb\rc\td", "a\\nb\\rc\\td");
    EXPECT_ESCAPED("\x01", "\\u0001");
    EXPECT_ESCAPED("\x08\x0c", "\\u0008\\u000c");
    EXPECT_ESCAPED("\x1f", "\\u001f");
    EXPECT_ESCAPED("x\x1by", "x\\u001by");
    /* an embedded NUL is data, not a terminator */
    EXPECT_ESCAPED("a\0b", "a\\u0000b");
}

static void test_json_str_invalid_utf8(void **state)
{
    EXPECT_ESCAPED("\xff", "\\ufffd");
    EXPECT_ESCAPED("a\xfe-z", "a\\ufffd-z");
    EXPECT_ESCAPED("end\xc3", "end\\ufffd");                            /* truncated at the end */
    EXPECT_ESCAPED("\xc3(", "\\ufffd(");                                /* bad continuation */
    EXPECT_ESCAPED("\xc0\x80", "\\ufffd\\ufffd");                       /* overlong */
    EXPECT_ESCAPED("\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd");            /* overlong 3-byte */
    EXPECT_ESCAPED("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");            /* surrogate */
    EXPECT_ESCAPED("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"); /* > U+10FFFF */
    EXPECT_ESCAPED("\x80", "\\ufffd");                                  /* lone continuation */
}

static void test_json_str_valid_multibyte_kept(void **state)
{
    EXPECT_ESCAPED("h\xc3\xa9llo", "h\xc3\xa9llo");                    /* 2 bytes */
    EXPECT_ESCAPED("\xe2\x82\xac", "\xe2\x82\xac");                    /* 3 bytes: euro */
    EXPECT_ESCAPED("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");            /* 4 bytes: emoji */
    EXPECT_ESCAPED("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");            /* U+10FFFF */
    EXPECT_ESCAPED("\xc3\xa9\xff\xc3\xa9", "\xc3\xa9\\ufffd\xc3\xa9"); /* bad byte between */
}

static void test_json_str_output_parses_back(void **state)
{
    /* every byte value but NUL (which cn_json_parse refuses even when escaped): the escaped
     * text must always be a valid JSON string */
    char all[255];
    for (int i = 0; i < 255; i++)
        all[i] = (char)(i + 1);
    cn_buf_t b = {0};
    cn_buf_lit(&b, "\"");
    cn_buf_append_json_str(&b, all, sizeof(all));
    cn_buf_lit(&b, "\"");
    cn_err_t err;
    json_t *j = cn_json_parse(b.data, b.len, &err);
    if (j == NULL)
        fail_msg("escaped output does not parse: %s", err.msg);
    /* 127 ASCII bytes survive one for one; the 128 high bytes each become U+FFFD */
    assert_int_equal(json_string_length(j), 127 + 128 * 3);
    assert_memory_equal(json_string_value(j), all, 127);
    assert_memory_equal(json_string_value(j) + 127, "\xef\xbf\xbd", 3);
    json_decref(j);
    cn_buf_free(&b);
}

/* One byte's escape as the byte-by-byte rule writes it (a lone byte >= 0x80 is not UTF-8). */
static void reference_escape(unsigned char c, char *out)
{
    if (c == '"' || c == '\\')
        sprintf(out, "\\%c", c);
    else if (c == '\n' || c == '\r' || c == '\t')
        sprintf(out, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
    else if (c < 0x20)
        sprintf(out, "\\u%04x", c);
    else if (c >= 0x80)
        sprintf(out, "\\ufffd");
    else
        sprintf(out, "%c", c);
}

/* Long plain runs are scanned a word at a time: a special byte at any offset, next to a
 * word boundary or not, and the bytes just outside the special set, come out right. */
static void test_json_str_every_offset(void **state)
{
    const unsigned char probes[] = {0x00, 0x01, 0x1f, 0x20, '"',  '!',  '#',
                                    '\\', '[',  ']',  0x7f, 0x80, 0xff, '\n'};
    for (size_t k = 0; k < sizeof(probes); k++)
        for (size_t len = 1; len <= 26; len++)
            for (size_t at = 0; at < len; at++) {
                char s[32], want[64], esc[8];
                memset(s, 'a', len);
                s[at] = (char)probes[k];
                size_t w = 0;
                for (size_t i = 0; i < len; i++) {
                    reference_escape((unsigned char)s[i], esc);
                    w += (size_t)sprintf(want + w, "%s", esc);
                }
                expect_escaped(s, len, want);
            }
}

/* ---- cn_json_dump ---- */

/* The writer's integers against printf, at every digit-count boundary and the extremes. */
static void test_jw_int_matches_printf(void **state)
{
    (void)state;
    int64_t values[64];
    size_t n = 0;
    values[n++] = INT64_MIN;
    values[n++] = INT64_MAX;
    for (int64_t p = 1; p <= INT64_MAX / 10; p *= 10) {
        values[n++] = p;
        values[n++] = p - 1;
        values[n++] = -p;
    }
    values[n++] = 1765080000123; /* a time in ms */
    for (size_t i = 0; i < n; i++) {
        cn_buf_t b = {0};
        cn_jw_t w;
        cn_jw_init(&w, &b);
        cn_jw_int(&w, values[i]);
        char want[32];
        snprintf(want, sizeof(want), "%lld", (long long)values[i]);
        assert_string_equal(b.data, want);
        cn_buf_free(&b);
    }
}

/* Plain keys are copied; a key with a quote, a control byte or non-ASCII is escaped. */
static void test_jw_keys(void **state)
{
    (void)state;
    cn_buf_t b = {0};
    cn_jw_t w;
    cn_jw_init(&w, &b);
    cn_jw_object(&w);
    cn_jw_key(&w, "id");
    cn_jw_int(&w, 1);
    cn_jw_key(&w, "a\"b\n");
    cn_jw_null(&w);
    cn_jw_key(&w, "caf\xc3\xa9");
    cn_jw_bool(&w, 1);
    cn_jw_key(&w, "");
    cn_jw_str(&w, "x", 1);
    cn_jw_end(&w);
    assert_string_equal(b.data, "{\"id\":1,\"a\\\"b\\n\":null,\"caf\xc3\xa9\":true,\"\":\"x\"}");
    assert_int_equal(b.len, strlen(b.data));
    cn_buf_free(&b);
}

static void test_dump_compact_and_round_trip(void **state)
{
    const char *text = "{\"a\":1,\"b\":[true,false,null],\"c\":\"x\\\"y\xc3\xa9\","
                       "\"d\":1.5,\"e\":{\"f\":[]}}";
    cn_err_t err;
    json_t *j = parse(text, &err);
    assert_non_null(j);

    cn_buf_t b = {0};
    cn_buf_lit(&b, "prefix:");
    cn_json_dump(j, &b);
    assert_string_equal(b.data + 7, text);
    assert_memory_equal(b.data, "prefix:", 7);

    json_t *back = cn_json_parse(b.data + 7, b.len - 7, &err);
    assert_non_null(back);
    assert_true(json_equal(j, back));
    json_decref(back);
    json_decref(j);
    cn_buf_free(&b);
}

static void test_dump_pretty_input_becomes_compact(void **state)
{
    cn_err_t err;
    json_t *j = parse("{ \"a\" : [ 1 , 2 ] ,\n \"b\" : { } }", &err);
    assert_non_null(j);
    cn_buf_t b = {0};
    cn_json_dump(j, &b);
    assert_string_equal(b.data, "{\"a\":[1,2],\"b\":{}}");
    json_decref(j);
    cn_buf_free(&b);
}

static void test_dump_scalars(void **state)
{
    cn_buf_t b = {0};
    json_t *v = json_integer(-7);
    cn_json_dump(v, &b);
    assert_string_equal(b.data, "-7");
    json_decref(v);

    b.len = 0;
    v = json_string("q\"\n");
    cn_json_dump(v, &b);
    assert_string_equal(b.data, "\"q\\\"\\n\"");
    json_decref(v);

    b.len = 0;
    cn_json_dump(json_null(), &b);
    assert_string_equal(b.data, "null");
    cn_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_error_has_line_and_column),
        cmocka_unit_test(test_parse_rejects_malformed),
        cmocka_unit_test(test_parse_rejects_duplicate_keys),
        cmocka_unit_test(test_parse_rejects_deep_nesting),
        cmocka_unit_test(test_parse_rejects_invalid_utf8),
        cmocka_unit_test(test_buf_append_and_grow),
        cmocka_unit_test(test_json_str_plain_and_quotes),
        cmocka_unit_test(test_json_str_control_chars),
        cmocka_unit_test(test_json_str_invalid_utf8),
        cmocka_unit_test(test_json_str_valid_multibyte_kept),
        cmocka_unit_test(test_json_str_output_parses_back),
        cmocka_unit_test(test_json_str_every_offset),
        cmocka_unit_test(test_jw_int_matches_printf),
        cmocka_unit_test(test_jw_keys),
        cmocka_unit_test(test_dump_compact_and_round_trip),
        cmocka_unit_test(test_dump_pretty_input_becomes_compact),
        cmocka_unit_test(test_dump_scalars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
