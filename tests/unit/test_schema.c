/*
 * Unit tests for request schemas (src/core/schema.h): body validation and its error paths,
 * the error cap, query-string conversion and the OpenAPI rendering of the same declaration.
 */
#include "core/schema.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* ---- schemas under test ---- */

static const char *const colors[] = {"red", "green", NULL};

static const cn_field_t inner_fields[] = {
    {.name = "b", .type = CN_T_INTEGER, .required = 1},
    {0},
};
static const cn_schema_t inner = {.name = "Inner", .fields = inner_fields};

static const cn_field_t tag_item = {.type = CN_T_STRING, .min_len = 1, .max_len = 3};

static const cn_field_t entry_fields[] = {
    {.name = "title", .type = CN_T_STRING, .required = 1},
    {0},
};
static const cn_schema_t entry = {.name = "Entry", .fields = entry_fields};
static const cn_field_t entry_item = {.type = CN_T_OBJECT, .object = &entry};

static const cn_field_t note_fields[] = {
    {.name = "title",
     .type = CN_T_STRING,
     .required = 1,
     .min_len = 1,
     .max_len = 5,
     .description = "short title"},
    {.name = "code", .type = CN_T_STRING, .min_len = 3},
    {.name = "count", .type = CN_T_INTEGER, .has_min = 1, .min = 1, .has_max = 1, .max = 10},
    {.name = "ratio", .type = CN_T_NUMBER, .has_min = 1, .min = 0, .has_max = 1, .max = 1},
    {.name = "done", .type = CN_T_BOOLEAN},
    {.name = "color", .type = CN_T_STRING, .enum_values = colors},
    {.name = "id", .type = CN_T_STRING, .format = CN_FMT_UUID},
    {.name = "email", .type = CN_T_STRING, .format = CN_FMT_EMAIL},
    {.name = "due", .type = CN_T_STRING, .format = CN_FMT_DATETIME, .nullable = 1},
    {.name = "a", .type = CN_T_OBJECT, .object = &inner},
    {.name = "tags", .type = CN_T_ARRAY, .items = &tag_item, .max_len = 5},
    {.name = "entries", .type = CN_T_ARRAY, .items = &entry_item, .min_len = 1},
    {0},
};
static const cn_schema_t note = {.name = "Note", .fields = note_fields};

static const cn_field_t open_fields[] = {
    {.name = "x", .type = CN_T_INTEGER},
    {0},
};
static const cn_schema_t open_schema = {.name = "Open", .fields = open_fields, .allow_unknown = 1};

static const cn_field_t named_fields[] = {
    {.name = "name", .type = CN_T_STRING, .single_line = 1, .max_len = 20},
    {.name = "body", .type = CN_T_STRING},
    {0},
};
static const cn_schema_t named = {.name = "Named", .fields = named_fields};

/* ---- helpers ---- */

static int validate_text(const cn_schema_t *s, const char *text, cn_verrors_t *errs)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (v == NULL)
        fail_msg("test JSON does not parse: %s: %s", text, jerr.text);
    memset(errs, 0, sizeof(*errs));
    int rc = cn_schema_validate(s, v, errs);
    json_decref(v);
    return rc;
}

static void dump_errors(const cn_verrors_t *errs)
{
    for (size_t i = 0; i < errs->count; i++)
        print_error("  [%zu] %s: %s\n", i, errs->items[i].field, errs->items[i].message);
}

static int has_error(const cn_verrors_t *errs, const char *field, const char *message)
{
    for (size_t i = 0; i < errs->count; i++)
        if (strcmp(errs->items[i].field, field) == 0 &&
            strstr(errs->items[i].message, message) != NULL)
            return 1;
    return 0;
}

/* Asserts that validation fails with exactly one error, on field, containing message. */
static void expect_one_error(const cn_schema_t *s, const char *text, const char *field,
                             const char *message)
{
    cn_verrors_t errs;
    int rc = validate_text(s, text, &errs);
    if (rc != CN_EVALIDATION || errs.count != 1 || !has_error(&errs, field, message)) {
        dump_errors(&errs);
        fail_msg("%s: expected one error \"%s: %s\" (rc %d, %zu errors)", text, field, message, rc,
                 errs.count);
    }
}

static void expect_valid(const cn_schema_t *s, const char *text)
{
    cn_verrors_t errs;
    if (validate_text(s, text, &errs) != 0 || errs.count != 0) {
        dump_errors(&errs);
        fail_msg("%s: expected to be valid", text);
    }
}

/* ---- cn_schema_validate ---- */

static void test_single_line_accepts_ordinary_text(void **state)
{
    expect_valid(&named, "{\"name\": \"Acme Inc.\"}");
    /* accents, CJK, emoji, Arabic and the characters just outside the refused ranges */
    expect_valid(&named, "{\"name\": \"Caf\\u00e9 \\u4e2d\\u6587 \\ud83d\\ude00 \\u0639\"}");
    expect_valid(&named, "{\"name\": \"\\u00a0\\u2027\\u202f\\u2065\\u206a\"}");
    /* a field without the flag keeps taking line breaks */
    expect_valid(&named, "{\"name\": \"n\", \"body\": \"line 1\\r\\nline 2\\t.\"}");
}

static void test_single_line_refuses_controls_and_bidi(void **state)
{
    static const char *const bad[] = {"\\r",     "\\n",     "\\t",     "\\u0001", "\\u001f",
                                      "\\u007f", "\\u0085", "\\u009f", "\\u2028", "\\u2029",
                                      "\\u202a", "\\u202e", "\\u2066", "\\u2069"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[80];
        snprintf(text, sizeof(text), "{\"name\": \"Acme%sInc\"}", bad[i]);
        expect_one_error(&named, text, "name", "must be one line of text");
    }
}

static void test_text_line_ok_raw_bytes(void **state)
{
    assert_true(cn_text_line_ok("plain", 5));
    assert_true(cn_text_line_ok("", 0));
    assert_true(cn_text_line_ok("\xe2\x80\xaf", 3));  /* U+202F */
    assert_false(cn_text_line_ok("a\0b", 3));         /* NUL */
    assert_false(cn_text_line_ok("\xe2\x80\xae", 3)); /* U+202E */
    assert_false(cn_text_line_ok("\xc2\x85", 2));     /* U+0085 NEL */
    assert_false(cn_text_line_ok("\xff", 1));         /* not UTF-8 */
    assert_false(cn_text_line_ok("\xc0\x8a", 2));     /* an overlong line feed */
    assert_false(cn_text_line_ok("\xe0\x80\x8a", 3)); /* the same, three bytes long */
    assert_false(cn_text_line_ok("\xed\xa0\x80", 3)); /* a surrogate */
    assert_false(cn_text_line_ok("\xe2\x80", 2));     /* cut short */
    assert_true(cn_text_char_forbidden(0x2028) && !cn_text_char_forbidden(0x2030));
}

static void test_single_line_openapi_pattern(void **state)
{
    json_t *o = cn_schema_openapi(&named);
    json_t *props = json_object_get(o, "properties");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(props, "name"), "pattern")),
        "^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028-\\u202E\\u2066-\\u2069]*$");
    assert_null(json_object_get(json_object_get(props, "body"), "pattern"));
    json_decref(o);
}

static void test_valid_document(void **state)
{
    expect_valid(&note, "{\"title\": \"hi\"}");
    expect_valid(&note, "{\"title\": \"hello\", \"code\": \"abc\", \"count\": 3, \"ratio\": 0.5,"
                        " \"done\": true, \"color\": \"green\","
                        " \"id\": \"123e4567-e89b-12d3-a456-426614174000\","
                        " \"email\": \"ann@example.org\", \"due\": \"2024-02-29T10:00:00Z\","
                        " \"a\": {\"b\": 1}, \"tags\": [\"x\", \"yy\", \"zzz\"],"
                        " \"entries\": [{\"title\": \"t\"}]}");
}

static void test_body_must_be_object(void **state)
{
    expect_one_error(&note, "[]", "", "must be a JSON object");
    expect_one_error(&note, "\"text\"", "", "must be a JSON object");
    expect_one_error(&note, "null", "", "must be a JSON object");
}

static void test_required(void **state)
{
    expect_one_error(&note, "{}", "title", "is required");
    /* optional fields may be absent */
    expect_valid(&note, "{\"title\": \"t\"}");
}

static void test_type_errors(void **state)
{
    expect_one_error(&note, "{\"title\": 5}", "title", "must be a string");
    expect_one_error(&note, "{\"title\": \"t\", \"count\": \"3\"}", "count", "must be an integer");
    /* jansson keeps 5.0 a real: it is a number but not an integer */
    expect_one_error(&note, "{\"title\": \"t\", \"count\": 5.0}", "count", "must be an integer");
    expect_one_error(&note, "{\"title\": \"t\", \"count\": true}", "count", "must be an integer");
    expect_one_error(&note, "{\"title\": \"t\", \"ratio\": \"0.5\"}", "ratio", "must be a number");
    expect_one_error(&note, "{\"title\": \"t\", \"done\": 1}", "done", "must be a boolean");
    expect_one_error(&note, "{\"title\": \"t\", \"a\": []}", "a", "must be an object");
    expect_one_error(&note, "{\"title\": \"t\", \"tags\": {}}", "tags", "must be an array");
    /* an integer is a number */
    expect_valid(&note, "{\"title\": \"t\", \"ratio\": 1}");
}

static void test_min_max(void **state)
{
    expect_one_error(&note, "{\"title\": \"t\", \"count\": 0}", "count", "must be at least 1");
    expect_one_error(&note, "{\"title\": \"t\", \"count\": 11}", "count", "must be at most 10");
    expect_one_error(&note, "{\"title\": \"t\", \"count\": -5}", "count", "must be at least 1");
    expect_valid(&note, "{\"title\": \"t\", \"count\": 1}");
    expect_valid(&note, "{\"title\": \"t\", \"count\": 10}");
    expect_one_error(&note, "{\"title\": \"t\", \"ratio\": 1.5}", "ratio", "must be at most 1");
    expect_one_error(&note, "{\"title\": \"t\", \"ratio\": -0.25}", "ratio", "must be at least 0");
    expect_valid(&note, "{\"title\": \"t\", \"ratio\": 0}");
    expect_valid(&note, "{\"title\": \"t\", \"ratio\": 1.0}");
}

static void test_string_length_in_code_points(void **state)
{
    /* "héllo" is 6 bytes but 5 code points: within max_len 5 */
    expect_valid(&note, "{\"title\": \"h\xc3\xa9llo\"}");
    /* five 4-byte emoji are 20 bytes, 5 code points */
    expect_valid(&note, "{\"title\": \"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
                        "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"}");
    expect_one_error(&note, "{\"title\": \"h\xc3\xa9llos\"}", "title",
                     "must be at most 5 characters");
    expect_one_error(&note, "{\"title\": \"\"}", "title", "must not be empty");
    /* "né" is 3 bytes but only 2 code points: below min_len 3 */
    expect_one_error(&note, "{\"title\": \"t\", \"code\": \"n\xc3\xa9\"}", "code",
                     "must be at least 3 characters");
    expect_valid(&note, "{\"title\": \"t\", \"code\": \"n\xc3\xa9s\"}");
}

static void test_enum(void **state)
{
    expect_valid(&note, "{\"title\": \"t\", \"color\": \"red\"}");
    expect_one_error(&note, "{\"title\": \"t\", \"color\": \"blue\"}", "color",
                     "must be one of: red, green");
    expect_one_error(&note, "{\"title\": \"t\", \"color\": \"Red\"}", "color", "must be one of");
    /* a prefix of an allowed value is not allowed */
    expect_one_error(&note, "{\"title\": \"t\", \"color\": \"re\"}", "color", "must be one of");
}

static void test_formats(void **state)
{
    expect_valid(&note, "{\"title\": \"t\", \"id\": \"123E4567-E89B-12D3-A456-426614174000\"}");
    expect_one_error(&note, "{\"title\": \"t\", \"id\": \"not-a-uuid\"}", "id",
                     "must be a valid uuid");
    expect_one_error(&note, "{\"title\": \"t\", \"id\": \"123e4567e89b12d3a456426614174000\"}",
                     "id", "must be a valid uuid");

    expect_valid(&note, "{\"title\": \"t\", \"email\": \"a.b+c@mail.example.org\"}");
    expect_one_error(&note, "{\"title\": \"t\", \"email\": \"nope\"}", "email",
                     "must be a valid email");
    expect_one_error(&note, "{\"title\": \"t\", \"email\": \"a b@example.org\"}", "email",
                     "must be a valid email");

    expect_valid(&note, "{\"title\": \"t\", \"due\": \"2026-11-22T10:00:00.123+02:00\"}");
    expect_one_error(&note, "{\"title\": \"t\", \"due\": \"2023-02-29T10:00:00Z\"}", "due",
                     "must be a valid date-time");
    expect_one_error(&note, "{\"title\": \"t\", \"due\": \"2024-01-01\"}", "due",
                     "must be a valid date-time");
}

static void test_nullable(void **state)
{
    expect_valid(&note, "{\"title\": \"t\", \"due\": null}");
    expect_one_error(&note, "{\"title\": null}", "title", "must not be null");
    expect_one_error(&note, "{\"title\": \"t\", \"count\": null}", "count", "must not be null");
}

static void test_unknown_fields(void **state)
{
    expect_one_error(&note, "{\"title\": \"t\", \"bogus\": 1}", "bogus", "is not a known field");
    expect_valid(&open_schema, "{\"x\": 1, \"bogus\": 1, \"more\": [1, 2]}");
    /* known fields are still checked when unknown ones are allowed */
    expect_one_error(&open_schema, "{\"x\": \"1\", \"bogus\": 1}", "x", "must be an integer");
}

static void test_unknown_field_name_is_sanitised(void **state)
{
    /* the client's key is echoed back: control characters must not be */
    expect_one_error(&note, "{\"title\": \"t\", \"a\\u0001\\nb\": 1}", "a??b",
                     "is not a known field");

    char big[300];
    int n = snprintf(big, sizeof(big), "{\"title\": \"t\", \"%0200d\": 1}", 0);
    assert_true(n > 0 && (size_t)n < sizeof(big));
    cn_verrors_t errs;
    assert_int_equal(validate_text(&note, big, &errs), CN_EVALIDATION);
    assert_int_equal(errs.count, 1);
    size_t flen = strlen(errs.items[0].field);
    assert_true(flen < 64);
    assert_string_equal(errs.items[0].field + flen - 3, "...");
}

static void test_nested_object_paths(void **state)
{
    expect_one_error(&note, "{\"title\": \"t\", \"a\": {}}", "a.b", "is required");
    expect_one_error(&note, "{\"title\": \"t\", \"a\": {\"b\": \"s\"}}", "a.b",
                     "must be an integer");
    expect_one_error(&note, "{\"title\": \"t\", \"a\": {\"b\": 1, \"c\": 2}}", "a.c",
                     "is not a known field");
}

static void test_array_item_paths(void **state)
{
    cn_verrors_t errs;
    assert_int_equal(validate_text(&note,
                                   "{\"title\": \"t\", \"tags\": [\"a\", \"b\", \"\","
                                   " \"dddd\"]}",
                                   &errs),
                     CN_EVALIDATION);
    assert_int_equal(errs.count, 2);
    assert_true(has_error(&errs, "tags[2]", "must not be empty"));
    assert_true(has_error(&errs, "tags[3]", "must be at most 3 characters"));

    expect_one_error(&note, "{\"title\": \"t\", \"tags\": [1]}", "tags[0]", "must be a string");
    expect_one_error(&note, "{\"title\": \"t\", \"tags\": [\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}",
                     "tags", "must have at most 5 items");
    expect_one_error(&note, "{\"title\": \"t\", \"entries\": []}", "entries",
                     "must have at least 1 items");
    /* objects inside arrays join both path styles */
    expect_one_error(&note, "{\"title\": \"t\", \"entries\": [{\"title\": \"x\"}, {}]}",
                     "entries[1].title", "is required");
    expect_one_error(&note,
                     "{\"title\": \"t\", \"entries\": [{\"title\": \"x\"}, {\"title\": \"y\","
                     " \"z\": 0}]}",
                     "entries[1].z", "is not a known field");
}

static void test_several_errors_reported_together(void **state)
{
    cn_verrors_t errs;
    assert_int_equal(validate_text(&note, "{\"count\": 0, \"color\": \"blue\", \"x\": 1}", &errs),
                     CN_EVALIDATION);
    assert_int_equal(errs.count, 4);
    assert_true(has_error(&errs, "title", "is required"));
    assert_true(has_error(&errs, "count", "must be at least 1"));
    assert_true(has_error(&errs, "color", "must be one of"));
    assert_true(has_error(&errs, "x", "is not a known field"));
    assert_int_equal(errs.dropped, 0);
}

static void test_error_cap(void **state)
{
    char text[1024] = "{\"title\": \"t\"";
    for (int i = 0; i < CN_MAX_VERRORS + 4; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), ", \"u%d\": %d", i, i);
    strcat(text, "}");

    cn_verrors_t errs;
    assert_int_equal(validate_text(&note, text, &errs), CN_EVALIDATION);
    assert_int_equal(errs.count, CN_MAX_VERRORS);
    assert_int_equal(errs.dropped, 4);
    assert_string_equal(errs.items[0].message, "is not a known field");
}

static void test_verrors_add(void **state)
{
    cn_verrors_t errs = {0};
    for (int i = 0; i < CN_MAX_VERRORS + 2; i++)
        cn_verrors_add(&errs, "f", "problem %d", i);
    assert_int_equal(errs.count, CN_MAX_VERRORS);
    assert_int_equal(errs.dropped, 2);
    assert_string_equal(errs.items[0].field, "f");
    assert_string_equal(errs.items[0].message, "problem 0");
    assert_string_equal(errs.items[CN_MAX_VERRORS - 1].message, "problem 15");

    /* long messages are truncated, never overflowed */
    cn_verrors_t one = {0};
    char longtext[400];
    memset(longtext, 'm', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    cn_verrors_add(&one, longtext, "%s", longtext);
    assert_int_equal(strlen(one.items[0].field), sizeof(one.items[0].field) - 1);
    assert_int_equal(strlen(one.items[0].message), sizeof(one.items[0].message) - 1);
}

/* ---- cn_schema_from_query ---- */

static const char *const sort_values[] = {"asc", "desc", NULL};

static const cn_field_t query_fields[] = {
    {.name = "limit", .type = CN_T_INTEGER, .has_min = 1, .min = 1, .has_max = 1, .max = 100},
    {.name = "offset", .type = CN_T_INTEGER, .has_min = 1, .min = 0},
    {.name = "q", .type = CN_T_STRING, .max_len = 10},
    {.name = "archived", .type = CN_T_BOOLEAN},
    {.name = "score", .type = CN_T_NUMBER},
    {.name = "sort", .type = CN_T_STRING, .enum_values = sort_values},
    {0},
};
static const cn_schema_t list_query = {.name = "ListQuery", .fields = query_fields};

#define KV(k, v) ((cn_kv_t){(k), sizeof(k) - 1, (v), sizeof(v) - 1})

static int from_query(const cn_kv_t *kv, size_t n, json_t **out, cn_verrors_t *errs)
{
    memset(errs, 0, sizeof(*errs));
    *out = NULL;
    return cn_schema_from_query(&list_query, kv, n, out, errs);
}

static void test_query_conversions(void **state)
{
    cn_kv_t kv[] = {KV("limit", "5"),       KV("offset", "0"),  KV("q", "a b"),
                    KV("archived", "true"), KV("score", "2.5"), KV("sort", "desc")};
    json_t *out;
    cn_verrors_t errs;

    assert_int_equal(from_query(kv, CN_ARRAY_SIZE(kv), &out, &errs), 0);
    assert_int_equal(errs.count, 0);
    assert_non_null(out);
    assert_int_equal(json_object_size(out), 6);
    assert_true(json_is_integer(json_object_get(out, "limit")));
    assert_int_equal(json_integer_value(json_object_get(out, "limit")), 5);
    assert_int_equal(json_integer_value(json_object_get(out, "offset")), 0);
    assert_string_equal(json_string_value(json_object_get(out, "q")), "a b");
    assert_true(json_is_true(json_object_get(out, "archived")));
    assert_true(json_is_real(json_object_get(out, "score")));
    assert_float_equal(json_real_value(json_object_get(out, "score")), 2.5, 1e-12);
    assert_string_equal(json_string_value(json_object_get(out, "sort")), "desc");
    json_decref(out);

    cn_kv_t no[] = {KV("archived", "false"), KV("score", "-1e3")};
    assert_int_equal(from_query(no, 1, &out, &errs), 0);
    assert_true(json_is_false(json_object_get(out, "archived")));
    json_decref(out);
    assert_int_equal(from_query(no + 1, 1, &out, &errs), 0);
    assert_float_equal(json_real_value(json_object_get(out, "score")), -1000.0, 1e-12);
    json_decref(out);

    /* no parameters at all is an empty object */
    assert_int_equal(from_query(NULL, 0, &out, &errs), 0);
    assert_true(json_is_object(out));
    assert_int_equal(json_object_size(out), 0);
    json_decref(out);
}

static void test_query_integer_rejections(void **state)
{
    static const char *const bad[] = {
        "+5", " 5", "5 ", "5x", "x5", "", "5.0", "0x10", "1e2", "99999999999999999999", "--5"};
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
        cn_kv_t kv = {"limit", 5, bad[i], strlen(bad[i])};
        json_t *out;
        cn_verrors_t errs;
        if (from_query(&kv, 1, &out, &errs) != CN_EVALIDATION ||
            !has_error(&errs, "limit", "must be an integer")) {
            dump_errors(&errs);
            fail_msg("limit=\"%s\" was not rejected as a non-integer", bad[i]);
        }
        assert_null(out);
    }
}

static void test_query_numbers_reject_any_leading_whitespace(void **state)
{
    /* " 5" is rejected; so must be every other isspace() byte that strtoll/strtod skip
     * ("%095" and "%0A5" in a query string decode to these) */
    static const char *const fields[] = {"limit", "score"};
    static const char *const bad[] = {"\t5", "\n5", "\v5", "\f5", "\r5"};
    for (size_t f = 0; f < CN_ARRAY_SIZE(fields); f++) {
        for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
            cn_kv_t kv = {fields[f], strlen(fields[f]), bad[i], strlen(bad[i])};
            json_t *out;
            cn_verrors_t errs;
            int rc = from_query(&kv, 1, &out, &errs);
            json_decref(out);
            if (rc != CN_EVALIDATION)
                fail_msg("%s=\"\\x%02x5\" was accepted as a number", fields[f],
                         (unsigned)bad[i][0]);
        }
    }
}

static void test_query_number_rejections(void **state)
{
    static const char *const bad[] = {"abc", "", " 1", "1x", "nan", "inf", "1e999"};
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
        cn_kv_t kv = {"score", 5, bad[i], strlen(bad[i])};
        json_t *out;
        cn_verrors_t errs;
        if (from_query(&kv, 1, &out, &errs) != CN_EVALIDATION ||
            !has_error(&errs, "score", "must be a number"))
            fail_msg("score=\"%s\" was not rejected", bad[i]);
    }
}

static void test_query_boolean(void **state)
{
    static const char *const bad[] = {"TRUE", "True", "1", "0", "yes", "", "truex", "fals"};
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
        cn_kv_t kv = {"archived", 8, bad[i], strlen(bad[i])};
        json_t *out;
        cn_verrors_t errs;
        if (from_query(&kv, 1, &out, &errs) != CN_EVALIDATION ||
            !has_error(&errs, "archived", "must be a boolean"))
            fail_msg("archived=\"%s\" was not rejected", bad[i]);
    }
}

static void test_query_range_and_string_checks(void **state)
{
    json_t *out;
    cn_verrors_t errs;

    cn_kv_t zero = KV("limit", "0");
    assert_int_equal(from_query(&zero, 1, &out, &errs), CN_EVALIDATION);
    assert_int_equal(errs.count, 1);
    assert_true(has_error(&errs, "limit", "must be at least 1"));

    cn_kv_t big = KV("limit", "101");
    assert_int_equal(from_query(&big, 1, &out, &errs), CN_EVALIDATION);
    assert_true(has_error(&errs, "limit", "must be at most 100"));

    cn_kv_t longq = KV("q", "eleven char");
    assert_int_equal(from_query(&longq, 1, &out, &errs), CN_EVALIDATION);
    assert_true(has_error(&errs, "q", "must be at most 10 characters"));

    cn_kv_t badsort = KV("sort", "up");
    assert_int_equal(from_query(&badsort, 1, &out, &errs), CN_EVALIDATION);
    assert_true(has_error(&errs, "sort", "must be one of: asc, desc"));

    cn_kv_t badutf8 = KV("q", "\xff");
    assert_int_equal(from_query(&badutf8, 1, &out, &errs), CN_EVALIDATION);
    assert_true(has_error(&errs, "q", "must be valid UTF-8"));
}

static void test_query_unknown_and_repeated(void **state)
{
    json_t *out;
    cn_verrors_t errs;

    cn_kv_t unknown[] = {KV("limit", "5"), KV("nope", "1")};
    assert_int_equal(from_query(unknown, 2, &out, &errs), CN_EVALIDATION);
    assert_int_equal(errs.count, 1);
    assert_true(has_error(&errs, "nope", "is not a known query parameter"));
    assert_null(out);

    /* a field name that is a prefix of a known one is still unknown */
    cn_kv_t prefix = KV("lim", "5");
    assert_int_equal(from_query(&prefix, 1, &out, &errs), CN_EVALIDATION);
    assert_true(has_error(&errs, "lim", "is not a known query parameter"));

    cn_kv_t repeated[] = {KV("limit", "5"), KV("limit", "6")};
    assert_int_equal(from_query(repeated, 2, &out, &errs), CN_EVALIDATION);
    assert_int_equal(errs.count, 1);
    assert_true(has_error(&errs, "limit", "is given more than once"));

    /* with no schema every parameter is unknown */
    memset(&errs, 0, sizeof(errs));
    out = NULL;
    assert_int_equal(cn_schema_from_query(NULL, unknown, 1, &out, &errs), CN_EVALIDATION);
    assert_true(has_error(&errs, "limit", "is not a known query parameter"));
    assert_null(out);
}

static void test_query_conversion_and_range_errors_both_reported(void **state)
{
    cn_kv_t kv[] = {KV("limit", "abc"), KV("offset", "-1"), KV("score", "x")};
    json_t *out;
    cn_verrors_t errs;
    assert_int_equal(from_query(kv, CN_ARRAY_SIZE(kv), &out, &errs), CN_EVALIDATION);
    assert_true(has_error(&errs, "limit", "must be an integer"));
    assert_true(has_error(&errs, "offset", "must be at least 0"));
    assert_true(has_error(&errs, "score", "must be a number"));
    assert_null(out);
}

static const cn_field_t page_fields[] = {
    {.name = "page", .type = CN_T_INTEGER, .required = 1, .has_min = 1, .min = 1},
    {0},
};
static const cn_schema_t page_query = {.name = "PageQuery", .fields = page_fields};

static void test_query_required(void **state)
{
    json_t *out = NULL;
    cn_verrors_t errs = {0};
    assert_int_equal(cn_schema_from_query(&page_query, NULL, 0, &out, &errs), CN_EVALIDATION);
    assert_int_equal(errs.count, 1);
    assert_true(has_error(&errs, "page", "is required"));

    cn_kv_t ok = KV("page", "2");
    memset(&errs, 0, sizeof(errs));
    assert_int_equal(cn_schema_from_query(&page_query, &ok, 1, &out, &errs), 0);
    assert_int_equal(json_integer_value(json_object_get(out, "page")), 2);
    json_decref(out);
}

static void test_query_bad_required_value_is_not_also_missing(void **state)
{
    /* the client did send "page": one error saying what is wrong with it, not a second one
     * claiming it is missing */
    cn_kv_t bad = KV("page", "two");
    json_t *out = NULL;
    cn_verrors_t errs = {0};
    assert_int_equal(cn_schema_from_query(&page_query, &bad, 1, &out, &errs), CN_EVALIDATION);
    assert_true(has_error(&errs, "page", "must be an integer"));
    if (errs.count != 1) {
        dump_errors(&errs);
        fail_msg("%zu errors for one bad parameter", errs.count);
    }
}

/* ---- OpenAPI ---- */

static json_t *prop(json_t *schema, const char *name)
{
    json_t *p = json_object_get(json_object_get(schema, "properties"), name);
    if (p == NULL)
        fail_msg("property %s missing", name);
    return p;
}

static void test_openapi_shape(void **state)
{
    json_t *o = cn_schema_openapi(&note);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "object");
    assert_true(json_is_object(json_object_get(o, "properties")));
    assert_int_equal(json_object_size(json_object_get(o, "properties")), 12);
    assert_true(json_is_false(json_object_get(o, "additionalProperties")));

    json_t *req = json_object_get(o, "required");
    assert_int_equal(json_array_size(req), 1);
    assert_string_equal(json_string_value(json_array_get(req, 0)), "title");

    json_t *title = prop(o, "title");
    assert_string_equal(json_string_value(json_object_get(title, "type")), "string");
    assert_int_equal(json_integer_value(json_object_get(title, "minLength")), 1);
    assert_int_equal(json_integer_value(json_object_get(title, "maxLength")), 5);
    assert_string_equal(json_string_value(json_object_get(title, "description")), "short title");
    assert_null(json_object_get(title, "format"));

    json_t *count = prop(o, "count");
    assert_string_equal(json_string_value(json_object_get(count, "type")), "integer");
    assert_true(json_is_integer(json_object_get(count, "minimum")));
    assert_int_equal(json_integer_value(json_object_get(count, "minimum")), 1);
    assert_int_equal(json_integer_value(json_object_get(count, "maximum")), 10);

    json_t *ratio = prop(o, "ratio");
    assert_string_equal(json_string_value(json_object_get(ratio, "type")), "number");
    assert_float_equal(json_number_value(json_object_get(ratio, "maximum")), 1.0, 1e-12);
    assert_non_null(json_object_get(ratio, "minimum"));

    json_t *color = prop(o, "color");
    json_t *en = json_object_get(color, "enum");
    assert_int_equal(json_array_size(en), 2);
    assert_string_equal(json_string_value(json_array_get(en, 0)), "red");
    assert_string_equal(json_string_value(json_array_get(en, 1)), "green");

    assert_string_equal(json_string_value(json_object_get(prop(o, "id"), "format")), "uuid");
    assert_string_equal(json_string_value(json_object_get(prop(o, "email"), "format")), "email");

    json_t *due = prop(o, "due");
    assert_string_equal(json_string_value(json_object_get(due, "format")), "date-time");
    json_t *due_type = json_object_get(due, "type");
    assert_true(json_is_array(due_type));
    assert_string_equal(json_string_value(json_array_get(due_type, 0)), "string");
    assert_string_equal(json_string_value(json_array_get(due_type, 1)), "null");

    json_t *a = prop(o, "a");
    assert_string_equal(json_string_value(json_object_get(a, "type")), "object");
    assert_non_null(json_object_get(json_object_get(a, "properties"), "b"));
    assert_string_equal(json_string_value(json_array_get(json_object_get(a, "required"), 0)), "b");
    assert_true(json_is_false(json_object_get(a, "additionalProperties")));

    json_t *tags = prop(o, "tags");
    assert_string_equal(json_string_value(json_object_get(tags, "type")), "array");
    assert_int_equal(json_integer_value(json_object_get(tags, "maxItems")), 5);
    assert_null(json_object_get(tags, "maxLength"));
    json_t *items = json_object_get(tags, "items");
    assert_string_equal(json_string_value(json_object_get(items, "type")), "string");
    assert_int_equal(json_integer_value(json_object_get(items, "minLength")), 1);
    assert_int_equal(json_integer_value(json_object_get(items, "maxLength")), 3);
    assert_int_equal(json_integer_value(json_object_get(prop(o, "entries"), "minItems")), 1);

    json_decref(o);
}

static void test_openapi_open_schema_without_required(void **state)
{
    json_t *o = cn_schema_openapi(&open_schema);
    assert_true(json_is_true(json_object_get(o, "additionalProperties")));
    assert_null(json_object_get(o, "required"));
    json_t *x = prop(o, "x");
    assert_string_equal(json_string_value(json_object_get(x, "type")), "integer");
    assert_null(json_object_get(x, "minimum"));
    json_decref(o);
}

/* ---- CN_T_TIME: integer Unix ms out, ms or RFC 3339 in ---- */

static const cn_field_t time_fields[] = {
    {.name = "at", .type = CN_T_TIME, .required = 1},
    {.name = "until", .type = CN_T_TIME, .nullable = 1},
    {0},
};
static const cn_schema_t time_schema = {.name = "Times", .fields = time_fields};

#define TIME_MSG "must be integer Unix milliseconds or an RFC 3339 date-time"

static void test_time_accepts_ms_and_rfc3339(void **state)
{
    expect_valid(&time_schema, "{\"at\": 1795341600000}");
    expect_valid(&time_schema, "{\"at\": \"2026-11-22T12:00:00+02:00\"}");
    expect_valid(&time_schema, "{\"at\": 0, \"until\": null}");
    expect_valid(&time_schema, "{\"at\": -62167219200000}");
    expect_valid(&time_schema, "{\"at\": 253402300799999}");
    expect_one_error(&time_schema, "{\"at\": 253402300800000}", "at", TIME_MSG);
    expect_one_error(&time_schema, "{\"at\": -62167219200001}", "at", TIME_MSG);
    expect_one_error(&time_schema, "{\"at\": 1.5}", "at", TIME_MSG);
    expect_one_error(&time_schema, "{\"at\": true}", "at", TIME_MSG);
    expect_one_error(&time_schema, "{\"at\": \"22/11/2026\"}", "at", TIME_MSG);
    expect_one_error(&time_schema, "{\"at\": null}", "at", "must not be null");

    int64_t ms = 0;
    json_t *v = json_integer(1795341600000);
    assert_int_equal(cn_schema_time(v, &ms), 0);
    assert_int_equal(ms, 1795341600000);
    json_decref(v);
    v = json_string("2026-11-22T12:00:00+02:00");
    assert_int_equal(cn_schema_time(v, &ms), 0);
    assert_int_equal(ms, 1795341600000); /* the same instant */
    json_decref(v);
    v = json_real(1.0);
    assert_int_equal(cn_schema_time(v, &ms), CN_EINVAL);
    json_decref(v);
    assert_int_equal(cn_schema_time(NULL, &ms), CN_ENOTFOUND);
    assert_int_equal(cn_schema_time(json_null(), &ms), CN_ENOTFOUND);
}

static void test_time_from_query(void **state)
{
    json_t *out = NULL;
    cn_verrors_t errs = {0};
    cn_kv_t ms[] = {KV("at", "1795341600000")};
    assert_int_equal(cn_schema_from_query(&time_schema, ms, 1, &out, &errs), 0);
    assert_true(json_is_integer(json_object_get(out, "at")));
    assert_int_equal(json_integer_value(json_object_get(out, "at")), 1795341600000);
    json_decref(out);
    cn_kv_t text[] = {KV("at", "2026-11-22T10:00:00Z")};
    assert_int_equal(cn_schema_from_query(&time_schema, text, 1, &out, &errs), 0);
    assert_string_equal(json_string_value(json_object_get(out, "at")), "2026-11-22T10:00:00Z");
    json_decref(out);
    const char *bad[] = {"", "1.5", "soon", "99999999999999999999999", "253402300800000", " 1"};
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
        cn_kv_t kv = {"at", 2, bad[i], strlen(bad[i])};
        memset(&errs, 0, sizeof(errs));
        out = NULL;
        assert_int_equal(cn_schema_from_query(&time_schema, &kv, 1, &out, &errs), CN_EVALIDATION);
        assert_null(out);
        assert_true(has_error(&errs, "at", TIME_MSG));
    }
}

static void test_time_openapi(void **state)
{
    json_t *o = cn_schema_openapi(&time_schema);
    json_t *props = json_object_get(o, "properties");
    json_t *any = json_object_get(json_object_get(props, "at"), "anyOf");
    assert_int_equal(json_array_size(any), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(any, 0), "type")),
                        "integer");
    assert_string_equal(json_string_value(json_object_get(json_array_get(any, 1), "type")),
                        "string");
    assert_string_equal(json_string_value(json_object_get(json_array_get(any, 1), "format")),
                        "date-time");
    any = json_object_get(json_object_get(props, "until"), "anyOf");
    assert_int_equal(json_array_size(any), 3); /* and null */
    assert_string_equal(json_string_value(json_object_get(json_array_get(any, 2), "type")), "null");
    json_decref(o);
}

/* response schemas: named nested objects become components, times are unix-ms */
static const cn_field_t item_fields[] = {
    {"id", CN_T_STRING, .required = 1},
    CN_R_TIME("created_at"),
    CN_R_TIME_OR_NULL("done_at"),
    {0},
};
static const cn_schema_t item_schema = {"Item", item_fields};
static const cn_field_t other_fields[] = {{"n", CN_T_INTEGER, .required = 1}, {0}};
static const cn_schema_t other_schema = {"Other", other_fields};
static const cn_field_t list_fields[] = {
    CN_R_ARRAY_OF("items", &item_schema),
    CN_R_OBJECT("first", &item_schema),
    {"maybe", CN_T_OBJECT, .required = 1, .nullable = 1, .object = &item_schema},
    {0},
};
static const cn_schema_t list_schema = {"ItemList", list_fields};
static const cn_schema_t *const either_of[] = {&item_schema, &other_schema, NULL};
static const cn_schema_t either_schema = {"Either", NULL, .one_of = either_of};

static const char *ref_of(const json_t *o)
{
    return json_string_value(json_object_get(o, "$ref"));
}

static void test_openapi_ref_registers_nested_components(void **state)
{
    json_t *components = json_object();
    json_t *ref = cn_schema_openapi_ref(&list_schema, components);
    assert_string_equal(ref_of(ref), "#/components/schemas/ItemList");
    json_t *list = json_object_get(components, "ItemList"),
           *item = json_object_get(components, "Item");
    assert_non_null(list);
    assert_non_null(item);
    assert_string_equal(ref_of(json_object_get(prop(list, "items"), "items")),
                        "#/components/schemas/Item");
    assert_string_equal(ref_of(prop(list, "first")), "#/components/schemas/Item");
    /* nullable: one of the component and null */
    json_t *maybe = json_object_get(prop(list, "maybe"), "oneOf");
    assert_int_equal(json_array_size(maybe), 2);
    assert_string_equal(ref_of(json_array_get(maybe, 0)), "#/components/schemas/Item");
    assert_string_equal(json_string_value(json_object_get(json_array_get(maybe, 1), "type")),
                        "null");
    /* integer times, declared one way */
    json_t *created = prop(item, "created_at"), *done = prop(item, "done_at");
    assert_string_equal(json_string_value(json_object_get(created, "type")), "integer");
    assert_string_equal(json_string_value(json_object_get(created, "format")), "unix-ms");
    assert_string_equal(json_string_value(json_array_get(json_object_get(done, "type"), 0)),
                        "integer");
    assert_string_equal(json_string_value(json_array_get(json_object_get(done, "type"), 1)),
                        "null");
    assert_string_equal(json_string_value(json_object_get(done, "format")), "unix-ms");
    /* a second reference renders nothing again */
    json_t *again = cn_schema_openapi_ref(&item_schema, components);
    assert_ptr_equal(json_object_get(components, "Item"), item);
    assert_int_equal(json_object_size(components), 2);
    json_decref(again);
    json_decref(ref);
    json_decref(components);
}

static void test_openapi_one_of(void **state)
{
    json_t *components = json_object();
    json_decref(cn_schema_openapi_ref(&either_schema, components));
    json_t *alts = json_object_get(json_object_get(components, "Either"), "oneOf");
    assert_int_equal(json_array_size(alts), 2);
    assert_string_equal(ref_of(json_array_get(alts, 0)), "#/components/schemas/Item");
    assert_string_equal(ref_of(json_array_get(alts, 1)), "#/components/schemas/Other");
    assert_non_null(json_object_get(components, "Other"));
    json_decref(components);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_line_accepts_ordinary_text),
        cmocka_unit_test(test_single_line_refuses_controls_and_bidi),
        cmocka_unit_test(test_text_line_ok_raw_bytes),
        cmocka_unit_test(test_single_line_openapi_pattern),
        cmocka_unit_test(test_valid_document),
        cmocka_unit_test(test_body_must_be_object),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_min_max),
        cmocka_unit_test(test_string_length_in_code_points),
        cmocka_unit_test(test_enum),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_nullable),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_unknown_field_name_is_sanitised),
        cmocka_unit_test(test_nested_object_paths),
        cmocka_unit_test(test_array_item_paths),
        cmocka_unit_test(test_several_errors_reported_together),
        cmocka_unit_test(test_error_cap),
        cmocka_unit_test(test_verrors_add),
        cmocka_unit_test(test_query_conversions),
        cmocka_unit_test(test_query_integer_rejections),
        cmocka_unit_test(test_query_numbers_reject_any_leading_whitespace),
        cmocka_unit_test(test_query_number_rejections),
        cmocka_unit_test(test_query_boolean),
        cmocka_unit_test(test_query_range_and_string_checks),
        cmocka_unit_test(test_query_unknown_and_repeated),
        cmocka_unit_test(test_query_conversion_and_range_errors_both_reported),
        cmocka_unit_test(test_query_required),
        cmocka_unit_test(test_query_bad_required_value_is_not_also_missing),
        cmocka_unit_test(test_openapi_shape),
        cmocka_unit_test(test_openapi_open_schema_without_required),
        cmocka_unit_test(test_time_accepts_ms_and_rfc3339),
        cmocka_unit_test(test_time_from_query),
        cmocka_unit_test(test_time_openapi),
        cmocka_unit_test(test_openapi_ref_registers_nested_components),
        cmocka_unit_test(test_openapi_one_of),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
