/*
 * Unit tests for the router (src/core/router.h): template compilation, matching and its
 * precedence rules, 404/405 answers, percent-decoding and query-string splitting. Tests go
 * through the public header only; they never touch an HTTP connection.
 */
#include "core/router.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int handler(cn_req_t *req)
{
    return 0;
}

/* A template may end in a slash: it then matches only with the slash. */
static void test_declared_trailing_slash(void **state)
{
    static const cn_route_t table[] = {
        {CN_GET, "/console", handler},
        {CN_GET, "/console/", handler},
        {0},
    };
    cn_router_t *r = cn_router_new();
    cn_err_t err = {0};
    assert_int_equal(cn_router_add_table(r, table, &err), 0);
    char scratch[64];
    cn_match_t m;
    assert_int_equal(cn_router_match(r, CN_GET, "/console/", 9, scratch, &m), 0);
    assert_ptr_equal(m.route, &table[1]);
    assert_int_equal(cn_router_match(r, CN_GET, "/console", 8, scratch, &m), 0);
    assert_ptr_equal(m.route, &table[0]);
    assert_int_equal(cn_router_match(r, CN_GET, "/console//", 10, scratch, &m), CN_ENOTFOUND);
    cn_router_free(r);
}

enum {
    R_ROOT,
    R_NOTES_LIST,
    R_NOTES_CREATE,
    R_NOTES_SEARCH,
    R_NOTE_GET,
    R_NOTE_PUT,
    R_NOTE_DELETE,
    R_USER_NOTE,
    R_ONLY_POST,
};

static const cn_route_t routes[] = {
    [R_ROOT] = {CN_GET, "/", handler},
    [R_NOTES_LIST] = {CN_GET, "/api/v1/notes", handler},
    [R_NOTES_CREATE] = {CN_POST, "/api/v1/notes", handler},
    [R_NOTES_SEARCH] = {CN_GET, "/api/v1/notes/search", handler},
    [R_NOTE_GET] = {CN_GET, "/api/v1/notes/{id}", handler},
    [R_NOTE_PUT] = {CN_PUT, "/api/v1/notes/{id}", handler},
    [R_NOTE_DELETE] = {CN_DELETE, "/api/v1/notes/{id}", handler},
    [R_USER_NOTE] = {CN_GET, "/api/v1/users/{uid}/notes/{nid}", handler},
    [R_ONLY_POST] = {CN_POST, "/only-post", handler},
    {0},
};

#define BIT(m) (1u << (m))

static int setup_router(void **state)
{
    cn_router_t *r = cn_router_new();
    cn_err_t err = {0};
    if (cn_router_add_table(r, routes, &err) != 0) {
        print_error("route table rejected: %s\n", err.msg);
        cn_router_free(r);
        return -1;
    }
    *state = r;
    return 0;
}

static int teardown_router(void **state)
{
    cn_router_free(*state);
    return 0;
}

/* Matches a NUL-terminated path; scratch lives in the caller so params stay valid. */
static int match(const cn_router_t *r, cn_method_t method, const char *path, char *scratch,
                 cn_match_t *m)
{
    return cn_router_match(r, method, path, strlen(path), scratch, m);
}

/* ---- matching ---- */

/* Tables added one after another, lengths interleaved, literals that share a length and a
 * first byte: every path finds its own route, its index is its place in the order the
 * routes were added, and 405's allow mask still gathers every method of the path. */
static void test_tables_of_mixed_lengths(void **state)
{
    static const cn_route_t first[] = {
        {CN_GET, "/api/v1/nodes/{id}", handler},   /* 0 */
        {CN_GET, "/api/v1/notes", handler},        /* 1 */
        {CN_GET, "/api/v1/notes/{id}", handler},   /* 2 */
        {CN_GET, "/api/v1/notes/{id}/x", handler}, /* 3 */
        {0},
    };
    static const cn_route_t second[] = {
        {CN_DELETE, "/api/v1/notes/{id}", handler}, /* 4 */
        {CN_GET, "/api/v1/{kind}/search", handler}, /* 5 */
        {CN_GET, "/api/v1/notes/search", handler},  /* 6 */
        {CN_GET, "/a", handler},                    /* 7 */
        {CN_GET, "/", handler},                     /* 8 */
        {0},
    };
    cn_router_t *r = cn_router_new();
    cn_err_t err = {0};
    char scratch[128];
    cn_match_t m;
    assert_int_equal(match(r, CN_GET, "/api/v1/notes", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(cn_router_add_table(r, first, &err), 0);
    assert_int_equal(cn_router_add_table(r, second, &err), 0);
    static const struct {
        cn_method_t method;
        const char *path;
        int index;
    } cases[] = {
        {CN_GET, "/api/v1/nodes/1", 0},
        {CN_GET, "/api/v1/notes", 1},
        {CN_GET, "/api/v1/notes/1", 2},
        {CN_GET, "/api/v1/notes/1/x", 3},
        {CN_DELETE, "/api/v1/notes/1", 4},
        {CN_GET, "/api/v1/jobs/search", 5},
        {CN_GET, "/api/v1/notes/search", 6},
        {CN_GET, "/a", 7},
        {CN_GET, "/", 8},
        {CN_HEAD, "/api/v1/notes/1", 2},
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(cases); i++) {
        assert_int_equal(match(r, cases[i].method, cases[i].path, scratch, &m), 0);
        assert_int_equal(m.route_index, cases[i].index);
        assert_ptr_equal(m.route, cn_router_route(r, (size_t)cases[i].index));
    }
    assert_int_equal(match(r, CN_GET, "/api/v1/notez/1", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(match(r, CN_GET, "/b", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(match(r, CN_GET, "/api/v1/notes/1/y", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(match(r, CN_PUT, "/api/v1/notes/1", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(m.allow_mask, BIT(CN_GET) | BIT(CN_DELETE));
    cn_router_free(r);
}

static void test_count_and_route_lookup(void **state)
{
    cn_router_t *r = *state;
    assert_int_equal(cn_router_count(r), CN_ARRAY_SIZE(routes) - 1);
    assert_ptr_equal(cn_router_route(r, R_NOTE_GET), &routes[R_NOTE_GET]);
    assert_null(cn_router_route(r, CN_ARRAY_SIZE(routes) - 1));
}

static void test_literal_match(void **state)
{
    cn_router_t *r = *state;
    char scratch[256];
    cn_match_t m;

    assert_int_equal(match(r, CN_GET, "/api/v1/notes", scratch, &m), 0);
    assert_ptr_equal(m.route, &routes[R_NOTES_LIST]);
    assert_int_equal(m.route_index, R_NOTES_LIST);
    assert_int_equal(m.n_params, 0);

    assert_int_equal(match(r, CN_POST, "/api/v1/notes", scratch, &m), 0);
    assert_ptr_equal(m.route, &routes[R_NOTES_CREATE]);
    assert_int_equal(m.route_index, R_NOTES_CREATE);

    assert_int_equal(match(r, CN_GET, "/", scratch, &m), 0);
    assert_ptr_equal(m.route, &routes[R_ROOT]);
}

static void test_literal_is_case_sensitive(void **state)
{
    cn_router_t *r = *state;
    char scratch[256];
    cn_match_t m;
    assert_int_equal(match(r, CN_GET, "/API/v1/notes", scratch, &m), CN_ENOTFOUND);
    assert_null(m.route);
    assert_int_equal(m.route_index, -1);
}

static void test_param_match(void **state)
{
    cn_router_t *r = *state;
    char scratch[256];
    cn_match_t m;

    assert_int_equal(match(r, CN_GET, "/api/v1/notes/abc123", scratch, &m), 0);
    assert_ptr_equal(m.route, &routes[R_NOTE_GET]);
    assert_int_equal(m.n_params, 1);
    assert_int_equal(m.params[0].value_len, 6);
    assert_string_equal(m.params[0].value, "abc123");
    assert_string_equal(cn_match_param(&m, "id"), "abc123");

    assert_int_equal(match(r, CN_DELETE, "/api/v1/notes/x", scratch, &m), 0);
    assert_ptr_equal(m.route, &routes[R_NOTE_DELETE]);
    assert_string_equal(cn_match_param(&m, "id"), "x");
}

static void test_two_params_and_match_param(void **state)
{
    cn_router_t *r = *state;
    char scratch[256];
    cn_match_t m;

    assert_int_equal(match(r, CN_GET, "/api/v1/users/u-7/notes/n-42", scratch, &m), 0);
    assert_ptr_equal(m.route, &routes[R_USER_NOTE]);
    assert_int_equal(m.n_params, 2);
    assert_string_equal(cn_match_param(&m, "uid"), "u-7");
    assert_string_equal(cn_match_param(&m, "nid"), "n-42");
    /* names compare whole: neither a prefix nor an extension of a name matches */
    assert_null(cn_match_param(&m, "ui"));
    assert_null(cn_match_param(&m, "uidx"));
    assert_null(cn_match_param(&m, "id"));
    assert_null(cn_match_param(&m, ""));
}

static void test_path_len_is_respected(void **state)
{
    cn_router_t *r = *state;
    char scratch[256];
    cn_match_t m;
    const char *target = "/api/v1/notes/abc?x=1";

    /* only the first path_len bytes are the path: the query must not leak into the param */
    assert_int_equal(cn_router_match(r, CN_GET, target, 17, scratch, &m), 0);
    assert_ptr_equal(m.route, &routes[R_NOTE_GET]);
    assert_string_equal(cn_match_param(&m, "id"), "abc");

    assert_int_equal(cn_router_match(r, CN_GET, target, 13, scratch, &m), 0);
    assert_ptr_equal(m.route, &routes[R_NOTES_LIST]);
}

static void test_literal_beats_param(void **state)
{
    cn_router_t *r = *state;
    char scratch[256];
    cn_match_t m;

    assert_int_equal(match(r, CN_GET, "/api/v1/notes/search", scratch, &m), 0);
    assert_ptr_equal(m.route, &routes[R_NOTES_SEARCH]);
    assert_int_equal(m.n_params, 0);
    assert_null(cn_match_param(&m, "id"));

    /* other methods on the same path still reach the parameter route */
    assert_int_equal(match(r, CN_PUT, "/api/v1/notes/search", scratch, &m), 0);
    assert_ptr_equal(m.route, &routes[R_NOTE_PUT]);
    assert_string_equal(cn_match_param(&m, "id"), "search");
}

static void test_literal_beats_param_regardless_of_order(void **state)
{
    /* the parameter route is declared first: precedence must not depend on table order */
    static const cn_route_t reversed[] = {
        {CN_GET, "/a/{id}", handler},   /* 0 */
        {CN_GET, "/a/search", handler}, /* 1 */
        {CN_GET, "/{x}/b", handler},    /* 2 */
        {CN_GET, "/a/{y}/c", handler},  /* 3 */
        {CN_GET, "/a/b/{z}", handler},  /* 4 */
        {0},
    };
    cn_router_t *r = cn_router_new();
    cn_err_t err = {0};
    char scratch[64];
    cn_match_t m;

    assert_int_equal(cn_router_add_table(r, reversed, &err), 0);
    assert_int_equal(match(r, CN_GET, "/a/search", scratch, &m), 0);
    assert_ptr_equal(m.route, &reversed[1]);
    assert_int_equal(m.route_index, 1);
    assert_int_equal(match(r, CN_GET, "/a/other", scratch, &m), 0);
    assert_ptr_equal(m.route, &reversed[0]);

    /* "/a/b" fits both "/{x}/b" and "/a/{id}": the earlier literal segment wins */
    assert_int_equal(match(r, CN_GET, "/a/b", scratch, &m), 0);
    assert_ptr_equal(m.route, &reversed[0]);
    assert_string_equal(cn_match_param(&m, "id"), "b");

    /* "/a/b/c" fits "/a/{y}/c" and "/a/b/{z}": the literal at position 1 wins */
    assert_int_equal(match(r, CN_GET, "/a/b/c", scratch, &m), 0);
    assert_ptr_equal(m.route, &reversed[4]);
    assert_string_equal(cn_match_param(&m, "z"), "c");
    cn_router_free(r);
}

/* ---- 404, 405 and Allow ---- */

static void test_not_found_has_empty_allow_mask(void **state)
{
    cn_router_t *r = *state;
    char scratch[256];
    cn_match_t m;

    assert_int_equal(match(r, CN_GET, "/nope", scratch, &m), CN_ENOTFOUND);
    assert_null(m.route);
    assert_int_equal(m.allow_mask, 0);
    assert_int_equal(m.route_index, -1);

    assert_int_equal(match(r, CN_GET, "/api/v1/notes/a/b", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(m.allow_mask, 0);
}

static void test_method_not_allowed_sets_allow_mask(void **state)
{
    cn_router_t *r = *state;
    char scratch[256], allow[64];
    cn_match_t m;

    assert_int_equal(match(r, CN_POST, "/api/v1/notes/abc", scratch, &m), CN_ENOTFOUND);
    assert_null(m.route);
    assert_int_equal(m.allow_mask, BIT(CN_GET) | BIT(CN_PUT) | BIT(CN_DELETE));
    assert_int_equal(cn_allow_header(m.allow_mask, allow, sizeof(allow)),
                     strlen("GET, HEAD, PUT, DELETE, OPTIONS"));
    assert_string_equal(allow, "GET, HEAD, PUT, DELETE, OPTIONS");

    assert_int_equal(match(r, CN_GET, "/only-post", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(m.allow_mask, BIT(CN_POST));
    cn_allow_header(m.allow_mask, allow, sizeof(allow));
    assert_string_equal(allow, "POST, OPTIONS");

    /* OPTIONS is answered by the caller (204 + Allow) from the same mask */
    assert_int_equal(match(r, CN_OPTIONS, "/api/v1/notes", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(m.allow_mask, BIT(CN_GET) | BIT(CN_POST));
    cn_allow_header(m.allow_mask, allow, sizeof(allow));
    assert_string_equal(allow, "GET, HEAD, POST, OPTIONS");
}

static void test_allow_mask_cleared_on_success(void **state)
{
    cn_router_t *r = *state;
    char scratch[256];
    cn_match_t m;
    assert_int_equal(match(r, CN_GET, "/api/v1/notes/abc", scratch, &m), 0);
    assert_int_equal(m.allow_mask, 0);
}

static void test_allow_header(void **state)
{
    char buf[64];

    assert_int_equal(cn_allow_header(0, buf, sizeof(buf)), 7);
    assert_string_equal(buf, "OPTIONS");

    cn_allow_header(BIT(CN_GET) | BIT(CN_POST), buf, sizeof(buf));
    assert_string_equal(buf, "GET, HEAD, POST, OPTIONS");

    /* HEAD is only implied by GET */
    cn_allow_header(BIT(CN_DELETE) | BIT(CN_PATCH), buf, sizeof(buf));
    assert_string_equal(buf, "PATCH, DELETE, OPTIONS");

    /* no duplicates when HEAD and OPTIONS are already in the mask */
    cn_allow_header(BIT(CN_GET) | BIT(CN_HEAD) | BIT(CN_OPTIONS), buf, sizeof(buf));
    assert_string_equal(buf, "GET, HEAD, OPTIONS");

    cn_allow_header(BIT(CN_GET) | BIT(CN_POST) | BIT(CN_PUT) | BIT(CN_PATCH) | BIT(CN_DELETE), buf,
                    sizeof(buf));
    assert_string_equal(buf, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
}

static void test_allow_header_truncates_at_a_method_boundary(void **state)
{
    char buf[10];
    memset(buf, 'x', sizeof(buf));
    /* "GET, HEAD" + NUL is exactly 10 bytes; ", POST" does not fit */
    assert_int_equal(cn_allow_header(BIT(CN_GET) | BIT(CN_POST), buf, sizeof(buf)), 9);
    assert_string_equal(buf, "GET, HEAD");

    char tiny[3];
    assert_int_equal(cn_allow_header(BIT(CN_GET), tiny, sizeof(tiny)), 0);
    assert_string_equal(tiny, "");
}

/* ---- HEAD ---- */

static void test_head_falls_back_to_get(void **state)
{
    cn_router_t *r = *state;
    char scratch[256];
    cn_match_t m;

    assert_int_equal(match(r, CN_HEAD, "/api/v1/notes", scratch, &m), 0);
    assert_ptr_equal(m.route, &routes[R_NOTES_LIST]);
    assert_int_equal(match(r, CN_HEAD, "/api/v1/notes/search", scratch, &m), 0);
    assert_ptr_equal(m.route, &routes[R_NOTES_SEARCH]);
    assert_int_equal(match(r, CN_HEAD, "/api/v1/notes/n1", scratch, &m), 0);
    assert_ptr_equal(m.route, &routes[R_NOTE_GET]);
    assert_string_equal(cn_match_param(&m, "id"), "n1");

    /* no GET, no HEAD */
    assert_int_equal(match(r, CN_HEAD, "/only-post", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(m.allow_mask, BIT(CN_POST));
}

static void test_explicit_head_route_beats_get(void **state)
{
    static const cn_route_t get_first[] = {
        {CN_GET, "/x", handler},
        {CN_HEAD, "/x", handler},
        {0},
    };
    static const cn_route_t head_first[] = {
        {CN_HEAD, "/y", handler},
        {CN_GET, "/y", handler},
        {0},
    };
    cn_router_t *r = cn_router_new();
    char scratch[16];
    cn_match_t m;

    assert_int_equal(cn_router_add_table(r, get_first, NULL), 0);
    assert_int_equal(cn_router_add_table(r, head_first, NULL), 0);
    assert_int_equal(match(r, CN_HEAD, "/x", scratch, &m), 0);
    assert_ptr_equal(m.route, &get_first[1]);
    assert_int_equal(match(r, CN_HEAD, "/y", scratch, &m), 0);
    assert_ptr_equal(m.route, &head_first[0]);
    assert_int_equal(match(r, CN_GET, "/x", scratch, &m), 0);
    assert_ptr_equal(m.route, &get_first[0]);
    cn_router_free(r);
}

/* ---- percent-decoding of parameters ---- */

static void test_param_percent_decoding(void **state)
{
    cn_router_t *r = *state;
    char scratch[256];
    cn_match_t m;

    assert_int_equal(match(r, CN_GET, "/api/v1/notes/a%20b", scratch, &m), 0);
    assert_string_equal(cn_match_param(&m, "id"), "a b");
    assert_int_equal(m.params[0].value_len, 3);

    /* an encoded slash stays inside the parameter */
    assert_int_equal(match(r, CN_GET, "/api/v1/notes/a%2Fb", scratch, &m), 0);
    assert_ptr_equal(m.route, &routes[R_NOTE_GET]);
    assert_string_equal(cn_match_param(&m, "id"), "a/b");

    /* '+' is not a space in a path */
    assert_int_equal(match(r, CN_GET, "/api/v1/notes/a+b", scratch, &m), 0);
    assert_string_equal(cn_match_param(&m, "id"), "a+b");

    assert_int_equal(match(r, CN_GET, "/api/v1/users/%C3%A9/notes/%41%62", scratch, &m), 0);
    assert_string_equal(cn_match_param(&m, "uid"), "\xc3\xa9");
    assert_string_equal(cn_match_param(&m, "nid"), "Ab");
}

static void test_param_bad_escape_is_einval(void **state)
{
    cn_router_t *r = *state;
    char scratch[256];
    cn_match_t m;

    assert_int_equal(match(r, CN_GET, "/api/v1/notes/a%2", scratch, &m), CN_EINVAL);
    assert_int_equal(match(r, CN_GET, "/api/v1/notes/%", scratch, &m), CN_EINVAL);
    assert_int_equal(match(r, CN_GET, "/api/v1/notes/%zz", scratch, &m), CN_EINVAL);
    assert_int_equal(match(r, CN_GET, "/api/v1/notes/%g0", scratch, &m), CN_EINVAL);
    /* a NUL byte would silently truncate the value in C strings */
    assert_int_equal(match(r, CN_GET, "/api/v1/notes/a%00b", scratch, &m), CN_EINVAL);
    assert_int_equal(match(r, CN_GET, "/api/v1/users/ok/notes/%00", scratch, &m), CN_EINVAL);
}

/* ---- shapes that must not match ---- */

static void test_trailing_slash_and_empty_segments(void **state)
{
    cn_router_t *r = *state;
    char scratch[256];
    cn_match_t m;

    assert_int_equal(match(r, CN_GET, "/api/v1/notes/", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(m.allow_mask, 0);
    assert_int_equal(match(r, CN_GET, "/api/v1//notes", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(match(r, CN_GET, "//api/v1/notes", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(match(r, CN_GET, "/api/v1/users//notes/n1", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(m.allow_mask, 0);
    assert_int_equal(match(r, CN_GET, "/only-post/", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(m.allow_mask, 0);
    assert_int_equal(match(r, CN_GET, "//", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(match(r, CN_GET, "", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(match(r, CN_GET, "api/v1/notes", scratch, &m), CN_ENOTFOUND);
}

static void test_too_many_segments_is_not_found(void **state)
{
    cn_router_t *r = *state;
    char path[128] = "", scratch[128];
    cn_match_t m;
    for (int i = 0; i < CN_MAX_SEGMENTS + 1; i++)
        strcat(path, "/a");
    assert_int_equal(match(r, CN_GET, path, scratch, &m), CN_ENOTFOUND);
    assert_null(m.route);
}

/* ---- building tables ---- */

static void test_duplicate_route_rejected(void **state)
{
    static const cn_route_t dup_in_table[] = {
        {CN_GET, "/a/{id}", handler},
        {CN_GET, "/a/{slug}", handler}, /* same shape, only the name differs */
        {0},
    };
    static const cn_route_t dup_literal[] = {{CN_POST, "/api/v1/notes", handler}, {0}};
    static const cn_route_t not_dups[] = {
        {CN_GET, "/b/{id}", handler},   /* the base route */
        {CN_PUT, "/b/{id}", handler},   /* another method */
        {CN_GET, "/b/c", handler},      /* a literal where it has a parameter */
        {CN_GET, "/b/{id}/c", handler}, /* one more segment */
        {CN_GET, "/{x}/{id}", handler}, /* a parameter where it has a literal */
        {0},
    };
    cn_err_t err = {0};

    cn_router_t *r = cn_router_new();
    assert_int_equal(cn_router_add_table(r, dup_in_table, &err), CN_EINVAL);
    assert_int_equal(err.code, CN_EINVAL);
    assert_non_null(strstr(err.msg, "GET /a/{slug}"));
    assert_non_null(strstr(err.msg, "declared twice"));
    cn_router_free(r);

    /* across tables too (two modules declaring the same route) */
    r = *state;
    size_t before = cn_router_count(r);
    memset(&err, 0, sizeof(err));
    assert_int_equal(cn_router_add_table(r, dup_literal, &err), CN_EINVAL);
    assert_non_null(strstr(err.msg, "declared twice"));
    assert_int_equal(cn_router_count(r), before);

    r = cn_router_new();
    assert_int_equal(cn_router_add_table(r, not_dups, &err), 0);
    assert_int_equal(cn_router_count(r), 5);
    cn_router_free(r);
}

static void test_malformed_templates_rejected(void **state)
{
    static const char *const bad[] = {
        "",         /* empty */
        "a/b",      /* relative */
        "//a",      /* empty segment */
        "/a//b",    /* empty segment */
        "/{}",      /* unnamed parameter */
        "/{id",     /* unclosed */
        "/id}",     /* stray brace */
        "/x{id}",   /* parameter inside a literal */
        "/{id}x",   /* text after a parameter */
        "/{a{b}",   /* nested brace */
        "/a/{b}/{", /* unclosed at the end */
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
        cn_route_t table[] = {{CN_GET, bad[i], handler}, {0}};
        cn_router_t *r = cn_router_new();
        cn_err_t err = {0};
        int rc = cn_router_add_table(r, table, &err);
        if (rc != CN_EINVAL)
            fail_msg("template \"%s\" was accepted (rc %d)", bad[i], rc);
        assert_int_equal(err.code, CN_EINVAL);
        assert_true(err.msg[0] != '\0');
        assert_int_equal(cn_router_count(r), 0);
        cn_router_free(r);
    }
}

static void test_brace_inside_param_name_rejected(void **state)
{
    /* "{a}b}" is not a parameter named "a}b": the name must not contain braces either */
    cn_route_t table[] = {{CN_GET, "/{a}b}", handler}, {0}};
    cn_router_t *r = cn_router_new();
    cn_err_t err = {0};
    int rc = cn_router_add_table(r, table, &err);
    cn_router_free(r);
    assert_int_equal(rc, CN_EINVAL);
}

static void test_template_limits(void **state)
{
    char many_segments[128] = "", many_params[128] = "", max_params[128] = "";
    for (int i = 0; i < CN_MAX_SEGMENTS + 1; i++)
        strcat(many_segments, "/s");
    for (int i = 0; i < CN_MAX_PARAMS + 1; i++)
        sprintf(many_params + strlen(many_params), "/{p%d}", i);
    for (int i = 0; i < CN_MAX_PARAMS; i++)
        sprintf(max_params + strlen(max_params), "/{p%d}", i);

    cn_route_t t1[] = {{CN_GET, many_segments, handler}, {0}};
    cn_route_t t2[] = {{CN_GET, many_params, handler}, {0}};
    cn_route_t t3[] = {{CN_GET, max_params, handler}, {0}};
    cn_router_t *r = cn_router_new();
    assert_int_equal(cn_router_add_table(r, t1, NULL), CN_EINVAL);
    assert_int_equal(cn_router_add_table(r, t2, NULL), CN_EINVAL);
    assert_int_equal(cn_router_add_table(r, t3, NULL), 0);

    char scratch[64];
    cn_match_t m;
    assert_int_equal(match(r, CN_GET, "/0/1/2/3/4/5/6/7", scratch, &m), 0);
    assert_int_equal(m.n_params, CN_MAX_PARAMS);
    assert_string_equal(cn_match_param(&m, "p0"), "0");
    assert_string_equal(cn_match_param(&m, "p7"), "7");
    cn_router_free(r);
}

/* A trailing "{name...}" takes the rest of the path: one segment or more, not empty. */
static void test_catch_all_takes_the_rest(void **state)
{
    static const cn_route_t table[] = {
        {CN_GET, "/console", handler},
        {CN_GET, "/console/", handler},
        {CN_GET, "/console/{path...}", handler},
        {0},
    };
    cn_router_t *r = cn_router_new();
    assert_int_equal(cn_router_add_table(r, table, NULL), 0);
    char scratch[128];
    cn_match_t m;
    assert_int_equal(match(r, CN_GET, "/console/", scratch, &m), 0);
    assert_ptr_equal(m.route, &table[1]);
    assert_int_equal(m.n_params, 0);
    assert_int_equal(match(r, CN_GET, "/console/index.html", scratch, &m), 0);
    assert_ptr_equal(m.route, &table[2]);
    assert_int_equal(m.route_index, 2);
    assert_string_equal(cn_match_param(&m, "path"), "index.html");
    assert_null(cn_match_param(&m, "path..."));
    assert_int_equal(match(r, CN_GET, "/console/insights/customers/12/", scratch, &m), 0);
    assert_string_equal(cn_match_param(&m, "path"), "insights/customers/12/");
    /* decoded like any parameter: the handler sees what an escape stands for */
    assert_int_equal(match(r, CN_GET, "/console/a%2F..%2Fb", scratch, &m), 0);
    assert_string_equal(cn_match_param(&m, "path"), "a/../b");
    assert_int_equal(match(r, CN_GET, "/console//", scratch, &m), 0);
    assert_string_equal(cn_match_param(&m, "path"), "/");
    assert_int_equal(match(r, CN_GET, "/console/a%zz", scratch, &m), CN_EINVAL);
    assert_int_equal(match(r, CN_GET, "/console/%00", scratch, &m), CN_EINVAL);
    /* the prefix is a whole segment */
    assert_int_equal(match(r, CN_GET, "/consolex/a", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(m.allow_mask, 0);
    assert_null(m.other);
    /* another method: 405 with the catch-all's methods, and the route it would have been */
    assert_int_equal(match(r, CN_POST, "/console/a/b", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(m.allow_mask, 1u << CN_GET);
    assert_ptr_equal(m.other, &table[2]);
    assert_int_equal(match(r, CN_HEAD, "/console/a/b", scratch, &m), 0);
    assert_ptr_equal(m.route, &table[2]);
    assert_null(m.other);
    cn_router_free(r);
}

/* A route of the path's own length wins over a catch-all, whatever the table order; among
 * catch-alls, the longer literal prefix; 405 only when no route takes the method. */
static void test_catch_all_precedence(void **state)
{
    static const cn_route_t table[] = {
        {CN_GET, "/c/{path...}", handler},
        {CN_GET, "/c/assets/{path...}", handler},
        {CN_GET, "/c/{a}/{b}", handler},
        {CN_POST, "/c/x/y/z", handler},
        {0},
    };
    cn_router_t *r = cn_router_new();
    assert_int_equal(cn_router_add_table(r, table, NULL), 0);
    char scratch[128];
    cn_match_t m;
    assert_int_equal(match(r, CN_GET, "/c/one", scratch, &m), 0);
    assert_ptr_equal(m.route, &table[0]);
    assert_int_equal(match(r, CN_GET, "/c/one/two", scratch, &m), 0);
    assert_ptr_equal(m.route, &table[2]);
    assert_int_equal(match(r, CN_GET, "/c/assets/x.js", scratch, &m), 0);
    assert_ptr_equal(m.route, &table[2]); /* two segments after /c: {a}/{b} */
    assert_int_equal(match(r, CN_GET, "/c/assets/x/y.js", scratch, &m), 0);
    assert_ptr_equal(m.route, &table[1]);
    assert_string_equal(cn_match_param(&m, "path"), "x/y.js");
    /* POST is declared for this exact path; GET falls through to the catch-all */
    assert_int_equal(match(r, CN_GET, "/c/x/y/z", scratch, &m), 0);
    assert_ptr_equal(m.route, &table[0]);
    assert_int_equal(match(r, CN_POST, "/c/x/y/z", scratch, &m), 0);
    assert_ptr_equal(m.route, &table[3]);
    assert_int_equal(match(r, CN_DELETE, "/c/x/y/z", scratch, &m), CN_ENOTFOUND);
    assert_int_equal(m.allow_mask, 1u << CN_GET | 1u << CN_POST);
    cn_router_free(r);
}

/* The catch-all is as deep as CN_MAX_SEGMENTS allows, no deeper. */
static void test_catch_all_depth(void **state)
{
    static const cn_route_t table[] = {{CN_GET, "/c/{rest...}", handler}, {0}};
    cn_router_t *r = cn_router_new();
    assert_int_equal(cn_router_add_table(r, table, NULL), 0);
    char path[256] = "/c", scratch[256];
    for (int i = 1; i < CN_MAX_SEGMENTS; i++)
        strcat(path, "/s");
    cn_match_t m;
    assert_int_equal(match(r, CN_GET, path, scratch, &m), 0);
    assert_int_equal(strlen(cn_match_param(&m, "rest")), strlen(path) - 3);
    strcat(path, "/s");
    assert_int_equal(match(r, CN_GET, path, scratch, &m), CN_ENOTFOUND);
    cn_router_free(r);
}

static void test_catch_all_templates(void **state)
{
    static const char *const bad[] = {
        "/{path...}/x", /* not last */
        "/{...}",       /* unnamed */
        "/{pa.th}",     /* a dot in a name */
        "/{path..}",    /* two dots */
        "/a/{p...}/{q...}",
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
        cn_route_t table[] = {{CN_GET, bad[i], handler}, {0}};
        cn_router_t *r = cn_router_new();
        if (cn_router_add_table(r, table, NULL) != CN_EINVAL)
            fail_msg("template \"%s\" was accepted", bad[i]);
        cn_router_free(r);
    }
    /* the same prefix twice is a duplicate; a catch-all and a parameter are two shapes */
    cn_route_t dup[] = {{CN_GET, "/a/{p...}", handler}, {CN_GET, "/a/{q...}", handler}, {0}};
    cn_route_t two[] = {{CN_GET, "/a/{p...}", handler}, {CN_GET, "/a/{q}", handler}, {0}};
    cn_router_t *r = cn_router_new();
    assert_int_equal(cn_router_add_table(r, dup, NULL), CN_EINVAL);
    cn_router_free(r);
    r = cn_router_new();
    assert_int_equal(cn_router_add_table(r, two, NULL), 0);
    char scratch[64];
    cn_match_t m;
    assert_int_equal(match(r, CN_GET, "/a/b", scratch, &m), 0);
    assert_ptr_equal(m.route, &two[1]);
    assert_int_equal(match(r, CN_GET, "/a/b/c", scratch, &m), 0);
    assert_ptr_equal(m.route, &two[0]);
    cn_router_free(r);
}

/* The index against a plain scan: random tables of templates made from a few literals
 * (one longer than 63 bytes, where key lengths share a bit) and parameters, every path made
 * from the same pieces, the winner and the 405 mask compared with the precedence rules
 * applied to every route. */
#define DIFF_ROUTES 400
#define LONG_LITERAL "llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll"

static const char *const diff_literals[] = {"api", "v1", "a", "me", LONG_LITERAL, LONG_LITERAL "m"};

static unsigned diff_rand(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 16;
}

/* a template (braces for parameters) or a path (an id for them) of n random segments */
static void diff_make(unsigned *seed, size_t n, int template, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned pick = diff_rand(seed) % ((sizeof(diff_literals) / sizeof(diff_literals[0])) + 2);
        const char *seg = pick < (sizeof(diff_literals) / sizeof(diff_literals[0]))
                              ? diff_literals[pick]
                          : template ? "{p}"
                                     : "0f3c";
        o += (size_t)snprintf(out + o, cap - o, "/%s", seg);
    }
    out[o] = '\0';
}

static int diff_shape_takes(const char *template, const char *path)
{
    for (;;) { /* both start at a '/' or end */
        if (*template == '\0' || *path == '\0')
            return *template == *path;
        const char *t = template + 1, *p = path + 1;
        size_t tl = strcspn(t, "/"), pl = strcspn(p, "/");
        if (!(t[0] == '{' ? pl > 0 : tl == pl && memcmp(t, p, tl) == 0))
            return 0;
        template = t + tl, path = p + pl;
    }
}

/* the bit of parameter segments, earliest highest: the smaller, the more literal */
static unsigned diff_mask(const char *template)
{
    unsigned mask = 0;
    for (unsigned i = 0; *template; i++) {
        template ++;
        if (*template == '{')
            mask |= 1u << (CN_MAX_SEGMENTS - 1 - i);
        template += strcspn(template, "/");
    }
    return mask;
}

static void test_index_matches_a_scan(void **state)
{
    (void)state;
    static char templates[DIFF_ROUTES][512];
    static cn_route_t rows[DIFF_ROUTES][2];
    unsigned seed = 20261207;
    cn_router_t *r = cn_router_new();
    size_t added = 0;
    for (size_t i = 0; i < DIFF_ROUTES; i++) {
        diff_make(&seed, 1 + diff_rand(&seed) % 4, 1, templates[i], sizeof(templates[i]));
        rows[i][0] = (cn_route_t){(cn_method_t)(diff_rand(&seed) % 3 == 0 ? CN_POST : CN_GET),
                                  templates[i], handler};
        rows[i][1] = (cn_route_t){0};
        cn_err_t err = {0};
        if (cn_router_add_table(r, rows[i], &err) == 0) /* a second declaration is refused */
            added++;
        else
            rows[i][0].path = NULL;
    }
    assert_true(added > 100);
    char path[512], scratch[512];
    for (int round = 0; round < 20000; round++) {
        diff_make(&seed, 1 + diff_rand(&seed) % 4, 0, path, sizeof(path));
        cn_method_t method = round % 2 ? CN_GET : CN_POST;
        const cn_route_t *want = NULL;
        unsigned want_mask = 0, allow = 0;
        for (size_t i = 0; i < DIFF_ROUTES; i++) {
            const cn_route_t *row = &rows[i][0];
            if (row->path == NULL || !diff_shape_takes(row->path, path))
                continue;
            allow |= 1u << row->method;
            unsigned mask = diff_mask(row->path);
            if (row->method == method && (want == NULL || mask < want_mask))
                want = row, want_mask = mask;
        }
        cn_match_t m;
        int rc = cn_router_match(r, method, path, strlen(path), scratch, &m);
        if (want == NULL) {
            assert_int_equal(rc, CN_ENOTFOUND);
            assert_int_equal(m.allow_mask, allow);
        } else {
            if (rc != 0 || m.route != want)
                fail_msg("%s %s: got %s, want %s", cn_method_name(method), path,
                         rc == 0 ? m.route->path : "none", want->path);
        }
    }
    cn_router_free(r);
}

static void test_route_needs_handler_and_method(void **state)
{
    cn_route_t no_handler[] = {{CN_GET, "/a", NULL}, {0}};
    cn_route_t other_method[] = {{CN_METHOD_OTHER, "/a", handler}, {0}};
    cn_router_t *r = cn_router_new();
    cn_err_t err = {0};
    assert_int_equal(cn_router_add_table(r, no_handler, &err), CN_EINVAL);
    assert_int_equal(cn_router_add_table(r, other_method, &err), CN_EINVAL);
    assert_int_equal(cn_router_count(r), 0);
    cn_router_free(r);
}

/* ---- methods ---- */

static void test_method_parse_and_name(void **state)
{
    static const struct {
        const char *text;
        cn_method_t m;
    } cases[] = {
        {"GET", CN_GET},     {"HEAD", CN_HEAD},     {"POST", CN_POST},       {"PUT", CN_PUT},
        {"PATCH", CN_PATCH}, {"DELETE", CN_DELETE}, {"OPTIONS", CN_OPTIONS},
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(cases); i++) {
        assert_int_equal(cn_method_parse(cases[i].text, strlen(cases[i].text)), cases[i].m);
        assert_string_equal(cn_method_name(cases[i].m), cases[i].text);
    }
    /* methods are case-sensitive tokens (RFC 9110) */
    assert_int_equal(cn_method_parse("get", 3), CN_METHOD_OTHER);
    assert_int_equal(cn_method_parse("GE", 2), CN_METHOD_OTHER);
    assert_int_equal(cn_method_parse("GETS", 4), CN_METHOD_OTHER);
    assert_int_equal(cn_method_parse("TRACE", 5), CN_METHOD_OTHER);
    assert_int_equal(cn_method_parse("", 0), CN_METHOD_OTHER);
    /* only len bytes are read */
    assert_int_equal(cn_method_parse("POSTX", 4), CN_POST);
    assert_string_equal(cn_method_name(CN_METHOD_OTHER), "OTHER");
    assert_string_equal(cn_method_name((cn_method_t)99), "OTHER");
}

/* ---- cn_percent_decode ---- */

static void test_percent_decode(void **state)
{
    char out[64];

    assert_int_equal(cn_percent_decode("a%20b", 5, out, 0), 3);
    assert_memory_equal(out, "a b", 3);
    assert_int_equal(cn_percent_decode("%4a%4A", 6, out, 0), 2);
    assert_memory_equal(out, "JJ", 2);
    assert_int_equal(cn_percent_decode("%C3%A9", 6, out, 0), 2);
    assert_memory_equal(out, "\xc3\xa9", 2);
    assert_int_equal(cn_percent_decode("", 0, out, 0), 0);

    assert_int_equal(cn_percent_decode("a+b", 3, out, 0), 3);
    assert_memory_equal(out, "a+b", 3);
    assert_int_equal(cn_percent_decode("a+b", 3, out, 1), 3);
    assert_memory_equal(out, "a b", 3);
    /* an encoded plus stays a plus in query mode */
    assert_int_equal(cn_percent_decode("%2B", 3, out, 1), 1);
    assert_int_equal(out[0], '+');

    /* only len bytes are consumed: "%2" followed by bytes beyond len is still bad */
    assert_int_equal(cn_percent_decode("ab%20", 4, out, 0), -1);
    assert_int_equal(cn_percent_decode("ab%20", 2, out, 0), 2);
}

static void test_percent_decode_in_place(void **state)
{
    char buf[] = "x%3Dy%26z";
    long n = cn_percent_decode(buf, strlen(buf), buf, 0);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "x=y&z", 5);
}

static void test_percent_decode_rejects(void **state)
{
    static const char *const bad[] = {"%", "%2", "a%", "%zz", "%2g", "%g2", "%00", "a%00b", "% 20"};
    char out[16];
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++)
        if (cn_percent_decode(bad[i], strlen(bad[i]), out, 1) != -1)
            fail_msg("\"%s\" decoded", bad[i]);
    /* a raw NUL byte is rejected like an encoded one */
    assert_int_equal(cn_percent_decode("a\0b", 3, out, 0), -1);
}

/* ---- cn_query_parse ---- */

static void assert_kv(const cn_kv_t *kv, const char *key, const char *value)
{
    assert_int_equal(kv->key_len, strlen(key));
    assert_memory_equal(kv->key, key, kv->key_len);
    assert_int_equal(kv->value_len, strlen(value));
    assert_memory_equal(kv->value, value, kv->value_len);
}

static int parse_qs(const char *qs, char *scratch, cn_kv_t *out, size_t max, cn_err_t *err)
{
    return cn_query_parse(qs, strlen(qs), scratch, out, max, err);
}

static void test_query_parse_basic(void **state)
{
    char scratch[128];
    cn_kv_t kv[8];
    cn_err_t err = {0};

    assert_int_equal(parse_qs("a=1&b=x%20y", scratch, kv, 8, &err), 2);
    assert_kv(&kv[0], "a", "1");
    assert_kv(&kv[1], "b", "x y");

    assert_int_equal(parse_qs("q=a+b%2Bc&k%65y=v", scratch, kv, 8, &err), 2);
    assert_kv(&kv[0], "q", "a b+c");
    assert_kv(&kv[1], "key", "v");

    /* only the first '=' splits */
    assert_int_equal(parse_qs("a=b=c", scratch, kv, 8, &err), 1);
    assert_kv(&kv[0], "a", "b=c");

    assert_int_equal(parse_qs("", scratch, kv, 8, &err), 0);
}

static void test_query_parse_empty_pairs_and_bare_keys(void **state)
{
    char scratch[128];
    cn_kv_t kv[8];
    cn_err_t err = {0};

    assert_int_equal(parse_qs("&&a=1&&&b=2&", scratch, kv, 8, &err), 2);
    assert_kv(&kv[0], "a", "1");
    assert_kv(&kv[1], "b", "2");

    assert_int_equal(parse_qs("&&&", scratch, kv, 8, &err), 0);

    assert_int_equal(parse_qs("flag&x=1&empty=", scratch, kv, 8, &err), 3);
    assert_kv(&kv[0], "flag", "");
    assert_kv(&kv[1], "x", "1");
    assert_kv(&kv[2], "empty", "");
}

static void test_query_parse_too_many(void **state)
{
    char scratch[128];
    cn_kv_t kv[3];
    cn_err_t err = {0};

    assert_int_equal(parse_qs("a=1&b=2", scratch, kv, 2, &err), 2);
    /* empty pairs do not count against the limit */
    assert_int_equal(parse_qs("a=1&&b=2&", scratch, kv, 2, &err), 2);

    assert_int_equal(parse_qs("a=1&b=2&c=3", scratch, kv, 2, &err), CN_EINVAL);
    assert_int_equal(err.code, CN_EINVAL);
    assert_non_null(strstr(err.msg, "too many"));
}

static void test_query_parse_bad_escape(void **state)
{
    static const char *const bad[] = {"a=%zz", "a=1&b=%2", "%=1", "a%00=1", "a=%00"};
    char scratch[128];
    cn_kv_t kv[8];
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
        cn_err_t err = {0};
        if (parse_qs(bad[i], scratch, kv, 8, &err) != CN_EINVAL)
            fail_msg("query \"%s\" was accepted", bad[i]);
        assert_int_equal(err.code, CN_EINVAL);
        assert_non_null(strstr(err.msg, "badly encoded"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_of_mixed_lengths),
        cmocka_unit_test(test_index_matches_a_scan),
        cmocka_unit_test_setup_teardown(test_count_and_route_lookup, setup_router, teardown_router),
        cmocka_unit_test_setup_teardown(test_literal_match, setup_router, teardown_router),
        cmocka_unit_test_setup_teardown(test_literal_is_case_sensitive, setup_router,
                                        teardown_router),
        cmocka_unit_test_setup_teardown(test_param_match, setup_router, teardown_router),
        cmocka_unit_test_setup_teardown(test_two_params_and_match_param, setup_router,
                                        teardown_router),
        cmocka_unit_test_setup_teardown(test_path_len_is_respected, setup_router, teardown_router),
        cmocka_unit_test_setup_teardown(test_literal_beats_param, setup_router, teardown_router),
        cmocka_unit_test(test_literal_beats_param_regardless_of_order),
        cmocka_unit_test_setup_teardown(test_not_found_has_empty_allow_mask, setup_router,
                                        teardown_router),
        cmocka_unit_test_setup_teardown(test_method_not_allowed_sets_allow_mask, setup_router,
                                        teardown_router),
        cmocka_unit_test_setup_teardown(test_allow_mask_cleared_on_success, setup_router,
                                        teardown_router),
        cmocka_unit_test(test_allow_header),
        cmocka_unit_test(test_allow_header_truncates_at_a_method_boundary),
        cmocka_unit_test_setup_teardown(test_head_falls_back_to_get, setup_router, teardown_router),
        cmocka_unit_test(test_explicit_head_route_beats_get),
        cmocka_unit_test_setup_teardown(test_param_percent_decoding, setup_router, teardown_router),
        cmocka_unit_test_setup_teardown(test_param_bad_escape_is_einval, setup_router,
                                        teardown_router),
        cmocka_unit_test_setup_teardown(test_trailing_slash_and_empty_segments, setup_router,
                                        teardown_router),
        cmocka_unit_test_setup_teardown(test_too_many_segments_is_not_found, setup_router,
                                        teardown_router),
        cmocka_unit_test_setup_teardown(test_duplicate_route_rejected, setup_router,
                                        teardown_router),
        cmocka_unit_test(test_malformed_templates_rejected),
        cmocka_unit_test(test_declared_trailing_slash),
        cmocka_unit_test(test_brace_inside_param_name_rejected),
        cmocka_unit_test(test_template_limits),
        cmocka_unit_test(test_route_needs_handler_and_method),
        cmocka_unit_test(test_catch_all_takes_the_rest),
        cmocka_unit_test(test_catch_all_precedence),
        cmocka_unit_test(test_catch_all_depth),
        cmocka_unit_test(test_catch_all_templates),
        cmocka_unit_test(test_method_parse_and_name),
        cmocka_unit_test(test_percent_decode),
        cmocka_unit_test(test_percent_decode_in_place),
        cmocka_unit_test(test_percent_decode_rejects),
        cmocka_unit_test(test_query_parse_basic),
        cmocka_unit_test(test_query_parse_empty_pairs_and_bare_keys),
        cmocka_unit_test(test_query_parse_too_many),
        cmocka_unit_test(test_query_parse_bad_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
