/*
 * Unit tests for cursor pagination (src/core/page.c): the page size, the list it writes,
 * the next_cursor it encodes and decodes again, cursors that were not written by a list
 * (garbage, tampered, truncated, too long) refused as a 422 naming "cursor", and the
 * shared query and {id} schemas. No connection: cn_page_begin only reads the request's
 * query and writes into the reply buffer.
 */
#include "core/page.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define ID1 "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2a"
#define ID2 "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"
/* base64url of ID2, unpadded (computed independently with Python's base64 module) */
#define ID2_CURSOR "MDE5MGExYjItYzNkNC03ZTVmLThhNmItN2M4ZDllMGYxYTJi"

/* A request with the given query (owned by the caller), as the pipeline leaves it. */
static void req_with(cn_req_t *r, json_t *query)
{
    memset(r, 0, sizeof(*r));
    r->query = query;
}

/* The text the writer holds, NUL-terminated. */
static const char *text_of(cn_page_t *p)
{
    cn_buf_t *b = p->w.b;
    cn_buf_reserve(b, 1);
    b->data[b->len] = '\0';
    return b->data;
}

/* Writes the ids as the items of one list of size limit, as a handler does. */
static void write_items(cn_page_t *p, const char *const *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!cn_page_room(p))
            break;
        cn_jw_str(&p->w, ids[i], strlen(ids[i]));
        cn_page_item(p, ids[i], strlen(ids[i]));
    }
}

static void test_default_limit_and_first_page(void **state)
{
    cn_req_t r;
    cn_page_t p;
    req_with(&r, NULL);
    assert_int_equal(cn_page_begin(&r, &p), 0);
    assert_int_equal(p.limit, CN_PAGE_DEFAULT);
    assert_string_equal(p.after, "");
    cn_page_end_items(&p);
    cn_jw_end(&p.w);
    assert_string_equal(text_of(&p), "{\"items\":[],\"next_cursor\":null}");
}

/* limit + 1 rows: the page holds limit, the extra one only says "more", and next_cursor
 * names the last item written; that cursor opens the next page after it. */
static void test_cursor_round_trip(void **state)
{
    static const char *const ids[] = {ID1, ID2, "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2c"};
    cn_req_t r;
    cn_page_t p;
    json_t *q = json_pack("{s:i}", "limit", 2);
    req_with(&r, q);
    assert_int_equal(cn_page_begin(&r, &p), 0);
    assert_int_equal(p.limit, 2);
    write_items(&p, ids, 3);
    assert_int_equal(p.count, 2);
    assert_int_equal(p.more, 1);
    cn_page_end_items(&p);
    cn_jw_end(&p.w);
    assert_string_equal(text_of(&p),
                        "{\"items\":[\"" ID1 "\",\"" ID2 "\"],\"next_cursor\":\"" ID2_CURSOR "\"}");
    json_decref(q);

    q = json_pack("{s:i,s:s}", "limit", 2, "cursor", ID2_CURSOR);
    req_with(&r, q);
    assert_int_equal(cn_page_begin(&r, &p), 0);
    assert_string_equal(p.after, ID2);
    write_items(&p, ids + 2, 1); /* the last page: no row beyond it */
    assert_int_equal(p.more, 0);
    cn_page_end_items(&p);
    cn_jw_end(&p.w);
    assert_string_equal(text_of(&p), "{\"items\":[\"0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2c\"],"
                                     "\"next_cursor\":null}");
    json_decref(q);
}

/* Exactly limit rows: no row says "more", so there is no next page. */
static void test_full_last_page_has_no_cursor(void **state)
{
    static const char *const ids[] = {ID1, ID2};
    cn_req_t r;
    cn_page_t p;
    json_t *q = json_pack("{s:i}", "limit", 2);
    req_with(&r, q);
    assert_int_equal(cn_page_begin(&r, &p), 0);
    write_items(&p, ids, 2);
    cn_page_end_items(&p);
    assert_null(strstr(text_of(&p), ID2_CURSOR));
    assert_non_null(strstr(text_of(&p), "\"next_cursor\":null"));
    json_decref(q);
}

static void assert_cursor_refused(const char *cursor)
{
    cn_req_t r;
    cn_page_t p;
    json_t *q = json_pack("{s:s}", "cursor", cursor);
    req_with(&r, q);
    int rc = cn_page_begin(&r, &p);
    if (rc != CN_EVALIDATION)
        fail_msg("cursor \"%.40s\" (length %zu) gave %d", cursor, strlen(cursor), rc);
    assert_int_equal(r.err.code, CN_EVALIDATION);
    assert_int_equal(r.verrors.count, 1);
    assert_string_equal(r.verrors.items[0].field, "cursor");
    assert_string_equal(p.after, "");
    json_decref(q);
}

/* Only the base64url of a UUID is a cursor. */
static void test_foreign_cursors_refused(void **state)
{
    char long_cursor[300];
    memset(long_cursor, 'A', sizeof(long_cursor) - 1);
    long_cursor[sizeof(long_cursor) - 1] = '\0';
    char tampered[] = ID2_CURSOR;
    tampered[10] = '*';
    char shortened[] = ID2_CURSOR;
    shortened[sizeof(shortened) - 2] = '\0';
    char extended[sizeof(ID2_CURSOR) + 4];
    snprintf(extended, sizeof(extended), "%sAAAA", ID2_CURSOR);
    const char *bad[] = {
        "",
        "!!!!",
        "garbage",
        tampered,
        shortened,
        extended,
        long_cursor,
        "MDE5MGExYjItYzNkNC03ZTVmLThhNmItN2M4ZDllMGYxYTI=", /* 35 bytes, padded */
        "bm90LWEtdXVpZC1ub3QtYS11dWlkLW5vdC1hLXV1aWQteHl6", /* 36 bytes, not a UUID */
        ID2,                                                /* an id is not a cursor */
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++)
        assert_cursor_refused(bad[i]);
}

static int valid_query(json_t *q)
{
    cn_verrors_t errs = {0};
    int rc = cn_schema_validate(&cn_page_query, q, &errs);
    json_decref(q);
    return rc;
}

/* The query schema every list shares: limit 1..200, a cursor of at most 128 characters. */
static void test_page_query_schema(void **state)
{
    char cursor[130];
    memset(cursor, 'A', sizeof(cursor) - 1);
    cursor[sizeof(cursor) - 1] = '\0';
    assert_int_equal(valid_query(json_pack("{}")), 0);
    assert_int_equal(valid_query(json_pack("{s:i}", "limit", 1)), 0);
    assert_int_equal(valid_query(json_pack("{s:i}", "limit", CN_PAGE_MAX)), 0);
    assert_int_equal(valid_query(json_pack("{s:i}", "limit", 0)), CN_EVALIDATION);
    assert_int_equal(valid_query(json_pack("{s:i}", "limit", CN_PAGE_MAX + 1)), CN_EVALIDATION);
    assert_int_equal(valid_query(json_pack("{s:s}", "limit", "10")), CN_EVALIDATION);
    assert_int_equal(valid_query(json_pack("{s:s}", "cursor", cursor + 2)), 0); /* 127 */
    assert_int_equal(valid_query(json_pack("{s:s}", "cursor", cursor)), CN_EVALIDATION);
    assert_int_equal(valid_query(json_pack("{s:s}", "after", "x")), CN_EVALIDATION);
}

static void test_id_param_schema(void **state)
{
    cn_verrors_t errs = {0};
    json_t *v = json_pack("{s:s}", "id", ID1);
    assert_int_equal(cn_schema_validate(&cn_id_param, v, &errs), 0);
    json_decref(v);
    v = json_pack("{s:s}", "id", "42");
    assert_int_equal(cn_schema_validate(&cn_id_param, v, &errs), CN_EVALIDATION);
    assert_string_equal(errs.items[0].field, "id");
    json_decref(v);
}

/* An id longer than a UUID is cut to one, never written past the page's buffer. */
static void test_item_id_is_bounded(void **state)
{
    cn_page_t p;
    memset(&p, 0, sizeof(p));
    p.limit = 1;
    cn_page_item(&p, ID1 "-and-more", strlen(ID1 "-and-more"));
    assert_string_equal(p.last, ID1);
    assert_int_equal(p.count, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_limit_and_first_page),
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_full_last_page_has_no_cursor),
        cmocka_unit_test(test_foreign_cursors_refused),
        cmocka_unit_test(test_page_query_schema),
        cmocka_unit_test(test_id_param_schema),
        cmocka_unit_test(test_item_id_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
