/*
 * The request-head scanner: framing header lines counted in any case, with LF or CRLF
 * line ends, continuation lines counted apart, names matched whole (a longer or shorter
 * name never counts), and an unfinished head refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/reqhead.h"

#include <string.h>

static cn_reqhead_t scan_ok(const char *head)
{
    cn_reqhead_t h;
    assert_int_equal(cn_reqhead_scan(head, strlen(head), &h), 0);
    return h;
}

static void test_counts(void **state)
{
    cn_reqhead_t h = scan_ok("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                             "content-length: 6\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n");
    assert_int_equal(h.content_length, 2);
    assert_int_equal(h.transfer_encoding, 0);
    assert_int_equal(h.host, 1);
    assert_int_equal(h.head_len, strlen("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                                        "content-length: 6\r\n\r\n"));
    h = scan_ok("POST / HTTP/1.1\nTRANSFER-ENCODING: chunked\nContent-Length:3\n\n");
    assert_int_equal(h.content_length, 1);
    assert_int_equal(h.transfer_encoding, 1);
    assert_int_equal(h.folded, 0);
    assert_int_equal(h.host, 0);
    h = scan_ok("GET / HTTP/1.1\r\nHost: a\r\nX-Host: c\r\nHOST:b\r\nHosts: d\r\n\r\n");
    assert_int_equal(h.host, 2);
}

static void test_names_are_whole(void **state)
{
    cn_reqhead_t h = scan_ok("GET /content-length: HTTP/1.1\r\nX-Content-Length: 1\r\n"
                             "Content-Lengths: 2\r\nContent-Lengt: 3\r\nX: content-length: 4\r\n"
                             "Transfer-Encoding-X: chunked\r\n\r\n");
    assert_int_equal(h.content_length, 0);
    assert_int_equal(h.transfer_encoding, 0);
}

static void test_folded(void **state)
{
    cn_reqhead_t h = scan_ok("GET / HTTP/1.1\r\nX-A: 1\r\n 2\r\n\t3\r\n\r\n");
    assert_int_equal(h.folded, 2);
}

/* one empty line before the request line is not the request line (found by the fuzzer) */
static void test_leading_empty_line(void **state)
{
    cn_reqhead_t h = scan_ok("\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
    assert_int_equal(h.content_length, 1);
    assert_int_equal(h.folded, 0);
    h = scan_ok("\n / HTTP/1.1\nA: \n\tb\n\n");
    assert_int_equal(h.folded, 1);
    assert_int_equal(h.head_len, strlen("\n / HTTP/1.1\nA: \n\tb\n\n"));
}

static void test_unfinished(void **state)
{
    cn_reqhead_t h;
    const char *heads[] = {"", "GET / HTTP/1.1", "GET / HTTP/1.1\r\n",
                           "GET / HTTP/1.1\r\nContent-Length: 1\r\n",
                           "GET / HTTP/1.1\r\nA: b\r\n\r"};
    for (size_t i = 0; i < sizeof(heads) / sizeof(*heads); i++)
        assert_int_equal(cn_reqhead_scan(heads[i], strlen(heads[i]), &h), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),     cmocka_unit_test(test_names_are_whole),
        cmocka_unit_test(test_folded),     cmocka_unit_test(test_leading_empty_line),
        cmocka_unit_test(test_unfinished),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
