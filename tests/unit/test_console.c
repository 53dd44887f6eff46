/*
 * Unit tests for the console's lookup (src/core/console.c): which decoded paths may be
 * looked up, Accept-Encoding, the embedded table (sorted, index.html present, gzip copies
 * that inflate to the bytes), and a generated storm of odd request paths sent through the
 * real route rows' shape and the router, checked against an independent statement of the
 * rule: nothing with a "." or ".." segment, an empty inner segment, a control byte or a
 * backslash is ever looked up, and what is found is exactly the file named.
 */
#include "core/console.h"
#include "core/console_int.h"
#include "core/router.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <zlib.h>

static int ok(const char *p)
{
    return cn__console_path_ok(p, strlen(p));
}

static void test_path_rules(void **state)
{
    static const char *const good[] = {
        "index.html",
        "assets/index-8YCJlahI.js",
        "insights/customers/123",
        "insights/",
        "a.b",
        "...",
        ".hidden",
        "a/..b/c..",
        "caf\xc3\xa9/r\xc3\xa9sum\xc3\xa9",
        "a b",
    };
    static const char *const bad[] = {
        "",      ".",
        "..",    "../x",
        "a/..",  "a/../b",
        "./a",   "a/./b",
        "a/.",   "/",
        "/a",    "a//b",
        "a\\b",  "..\\x",
        "a\tb",  "a\nb",
        "a\rb",  "a\x7f",
        "a\x1b", "//",
        "a/b//", "assets/../index.html",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!ok(good[i]))
            fail_msg("refused \"%s\"", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ok(bad[i]))
            fail_msg("accepted \"%s\"", bad[i]);
    char longest[CN_CONSOLE_PATH_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    assert_true(cn__console_path_ok(longest, CN_CONSOLE_PATH_MAX));
    assert_false(cn__console_path_ok(longest, CN_CONSOLE_PATH_MAX + 1));
}

static int gz(const char *v)
{
    return cn__console_accepts_gzip(v, strlen(v));
}

static void test_accept_encoding(void **state)
{
    assert_false(cn__console_accepts_gzip(NULL, 0));
    assert_true(gz("gzip"));
    assert_true(gz("gzip, deflate, br, zstd"));
    assert_true(gz("br;q=1.0, GZIP;q=0.5"));
    assert_true(gz("deflate,gzip"));
    assert_true(gz("*"));
    assert_true(gz("gzip;q=0.001"));
    assert_false(gz("identity"));
    assert_false(gz("deflate, br"));
    assert_false(gz("gzip;q=0"));
    assert_false(gz("gzip; q=0.000"));
    assert_false(gz("gzip;q=0, *")); /* named and refused: the star does not bring it back */
    assert_false(gz("*;q=0"));
    assert_true(gz("*;q=0, gzip"));
    assert_false(gz("x-gzip"));
    assert_false(gz("gzipx"));
}

/* inflates a gzip copy and compares it with the raw bytes */
static void assert_inflates_to(const cn_console_file_t *f)
{
    unsigned char out[1 << 16];
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    z.next_in = (unsigned char *)f->gzip;
    z.avail_in = (uInt)f->gzip_len;
    size_t at = 0;
    int rc;
    do {
        z.next_out = out;
        z.avail_out = sizeof(out);
        rc = inflate(&z, Z_NO_FLUSH);
        assert_true(rc == Z_OK || rc == Z_STREAM_END);
        size_t n = sizeof(out) - z.avail_out;
        assert_true(at + n <= f->raw_len);
        assert_memory_equal(out, f->raw + at, n);
        at += n;
    } while (rc != Z_STREAM_END);
    inflateEnd(&z);
    assert_int_equal(at, f->raw_len);
}

static void test_embedded_table(void **state)
{
    assert_true(cn_console_n_files >= 2); /* index.html and at least its entry script */
    const cn_console_file_t *index = cn__console_find("index.html");
    assert_non_null(index);
    assert_string_equal(index->content_type, "text/html; charset=utf-8");
    assert_false(index->immutable);
    for (size_t i = 0; i < cn_console_n_files; i++) {
        const cn_console_file_t *f = &cn_console_files[i];
        if (i > 0)
            assert_true(strcmp(cn_console_files[i - 1].path, f->path) < 0);
        assert_ptr_equal(cn__console_find(f->path), f);
        assert_true(ok(f->path));
        assert_int_equal(f->immutable, strncmp(f->path, "assets/", 7) == 0);
        assert_true(f->etag[0] == '"' && f->etag[strlen(f->etag) - 1] == '"');
        assert_true(strcmp(f->etag, f->gzip_etag) != 0);
        if (f->gzip != NULL) {
            assert_true(f->gzip_len < f->raw_len);
            assert_inflates_to(f);
        }
    }
    /* index.html names its entry script, which the table holds */
    const char *src = strstr((const char *)index->raw, "src=\"/console/assets/");
    assert_non_null(src);
    char name[256];
    assert_int_equal(sscanf(src, "src=\"/console/%255[^\"]", name), 1);
    const cn_console_file_t *entry = cn__console_find(name);
    assert_non_null(entry);
    assert_true(entry->immutable);
    assert_string_equal(entry->content_type, "text/javascript; charset=utf-8");
    assert_null(cn__console_find("assets/"));
    assert_null(cn__console_find("Index.html"));
    assert_null(cn__console_find("index.html/"));
}

/* The rule, stated apart from console.c: split on '/', no "." or "..", no empty segment
 * but the last, no byte below 0x20, no DEL, no backslash. */
static int allowed(const char *p, size_t len)
{
    if (len == 0 || len > CN_CONSOLE_PATH_MAX)
        return 0;
    char copy[CN_CONSOLE_PATH_MAX + 1];
    memcpy(copy, p, len);
    copy[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)copy[i] < 0x20 || copy[i] == 0x7f || copy[i] == '\\')
            return 0;
    char *seg = copy;
    for (;;) {
        char *slash = strchr(seg, '/');
        if (slash != NULL)
            *slash = '\0';
        if (strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0 || (seg[0] == '\0' && slash))
            return 0;
        if (slash == NULL)
            return 1;
        seg = slash + 1;
    }
}

static void test_odd_paths_through_the_router(void **state)
{
    static const cn_route_t rows[] = {
        {CN_GET, "/console", cn_console_get},
        {CN_GET, "/console/", cn_console_get},
        {CN_GET, "/console/{path...}", cn_console_get},
        {0},
    };
    static const char *const pieces[] = {
        "/",          ".",   "..",  "%2e", "%2E",      "%2f", "%2F", "%5c",
        "%5C",        "\\",  "%00", "%0a", "%",        "%2",  "a",   "assets",
        "index.html", "%25", "+",   "%20", "\xc3\xa9", "%7f", "~",   "-",
    };
    cn_router_t *r = cn_router_new();
    assert_int_equal(cn_router_add_table(r, rows, NULL), 0);
    uint32_t seed = 12345;
    size_t looked_up = 0, refused = 0;
    for (int round = 0; round < 200000; round++) {
        char path[128] = "/console/", scratch[128];
        int n = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 8;
        for (int k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            strcat(path, pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))]);
        }
        cn_match_t m;
        int rc = cn_router_match(r, CN_GET, path, strlen(path), scratch, &m);
        if (rc != 0)
            continue; /* a bad escape (400) or too deep (404): never looked up */
        const char *v = cn_match_param(&m, "path");
        if (v == NULL)
            continue; /* the page itself */
        size_t len = strlen(v);
        int accept = cn__console_path_ok(v, len);
        if (accept != allowed(v, len))
            fail_msg("%s: decoded \"%s\": console.c says %d", path, v, accept);
        if (!accept) {
            refused++;
            continue;
        }
        looked_up++;
        const cn_console_file_t *f = cn__console_find(v);
        if (f != NULL)
            assert_string_equal(f->path, v);
    }
    /* the storm exercised both sides */
    assert_true(looked_up > 1000 && refused > 1000);
    cn_router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_rules),
        cmocka_unit_test(test_accept_encoding),
        cmocka_unit_test(test_embedded_table),
        cmocka_unit_test(test_odd_paths_through_the_router),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
