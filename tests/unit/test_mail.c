/*
 * Unit tests for the message builder of src/core/mail.c: values from users never add a
 * header or a line, subjects that are not plain ASCII become RFC 2047 encoded words, and
 * bodies are CRLF text/plain UTF-8.
 */
#include "core/mail.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

/* Builds a message and returns it NUL-terminated (caller frees), or NULL when refused. */
static char *build(const char *to, const char *subject, const char *text)
{
    cn_buf_t b = {0};
    cn_err_t err = {0};
    if (cn_mail_format(&b, "noreply@cairn.test", to, subject, text,
                       "Sun, 6 Dec 2026 00:00:00 +0000", "id", &err) != 0) {
        cn_buf_free(&b);
        return NULL;
    }
    char *s = malloc(b.len + 1);
    memcpy(s, b.data, b.len);
    s[b.len] = '\0';
    cn_buf_free(&b);
    return s;
}

/* The header block: everything before the first empty line. */
static void headers_of(const char *msg, char *out, size_t cap)
{
    const char *end = strstr(msg, "\r\n\r\n");
    assert_non_null(end);
    snprintf(out, cap, "%.*s", (int)(end - msg), msg);
}

static void test_plain_message(void **state)
{
    char *m = build("ann@acme.test", "Reset your password", "Hello\nworld\r\n.\rend");
    assert_non_null(m);
    assert_non_null(strstr(m, "\r\nTo: <ann@acme.test>\r\n"));
    assert_non_null(strstr(m, "\r\nSubject: Reset your password\r\n"));
    assert_non_null(strstr(m, "Content-Type: text/plain; charset=utf-8\r\n"));
    /* bare LF and bare CR became CRLF: no line can end in anything else */
    assert_string_equal(strstr(m, "\r\n\r\n") + 4, "Hello\r\nworld\r\n.\r\nend");
    free(m);
}

static void test_no_header_injection(void **state)
{
    assert_null(build("ann@acme.test\r\nBcc: eve@evil.test", "s", "b"));
    assert_null(build("ann@acme.test>, <eve@evil.test", "s", "b"));
    cn_buf_t b = {0};
    cn_err_t err = {0};
    assert_int_equal(
        cn_mail_format(&b, "cairn@localhost", "ann@acme.test", "s", "b", "d", "i", &err), 0);
    assert_int_equal(cn_mail_format(&b, "cairn@localhost>\r\nBcc: <e@e.test", "ann@acme.test", "s",
                                    "b", "d", "i", &err),
                     CN_EINVAL);
    cn_buf_free(&b);
    char *m = build("ann@acme.test", "Hi\r\nBcc: eve@evil.test\r\n\r\nbody", "b");
    assert_non_null(m);
    char h[2048];
    headers_of(m, h, sizeof(h));
    assert_null(strstr(h, "\r\nBcc:"));
    assert_null(strstr(m, "eve@evil.test")); /* the subject went out encoded */
    /* every header line is a header or a folded continuation */
    char *save = NULL;
    int n_lines = 0;
    for (char *line = strtok_r(h, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        assert_true(line[0] == ' ' || strchr(line, ':') != NULL);
        n_lines++;
    }
    assert_int_equal(n_lines, 8); /* Date From To Subject Message-ID MIME Type Encoding */
    free(m);
}

static void test_utf8_subject_is_encoded(void **state)
{
    /* 40 "é" are 80 bytes: two encoded words, each whole characters, on folded lines */
    char subject[128] = "";
    for (int i = 0; i < 40; i++)
        strcat(subject, "\xc3\xa9");
    char *m = build("ann@acme.test", subject, "b");
    assert_non_null(m);
    char h[2048], decoded[256] = "";
    headers_of(m, h, sizeof(h));
    const char *p = strstr(h, "Subject: ");
    assert_non_null(p);
    int words = 0;
    while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
        p += 10;
        const char *q = strstr(p, "?=");
        assert_true(q - p + 12 <= 75);
        unsigned char bin[64];
        size_t n;
        assert_int_equal(sodium_base642bin(bin, sizeof(bin), p, (size_t)(q - p), NULL, &n, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        assert_int_equal(bin[0] & 0xc0, 0xc0); /* starts on a character */
        strncat(decoded, (char *)bin, n);
        words++;
        p = q;
    }
    assert_int_equal(words, 2);
    assert_string_equal(decoded, subject);
    free(m);
}

static void test_values_stay_on_their_line(void **state)
{
    cn_buf_t b = {0};
    cn_mail_append_value(&b, "Acme\r\nBcc: x\xe2\x80\xae\t\xff.");
    assert_int_equal(b.len, strlen("Acme\xef\xbf\xbd\xef\xbf\xbd"
                                   "Bcc: x\xef\xbf\xbd\xef\xbf\xbd"
                                   "\xef\xbf\xbd."));
    assert_memory_equal(b.data,
                        "Acme\xef\xbf\xbd\xef\xbf\xbd"
                        "Bcc: x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd.",
                        b.len);
    cn_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_message),
        cmocka_unit_test(test_no_header_injection),
        cmocka_unit_test(test_utf8_subject_is_encoded),
        cmocka_unit_test(test_values_stay_on_their_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
