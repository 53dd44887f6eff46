/*
 * Unit tests for src/lib/redact.c: which parts of a connection URL are secrets, in the
 * forms libpq and NATS accept, and that nothing else changes.
 */
#include "lib/redact.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void check(const char *url, const char *want)
{
    char out[512];
    cn_url_redact(url, out, sizeof(out));
    if (strcmp(out, want) != 0)
        fail_msg("%s\n  gave %s\n  want %s", url, out, want);
}

static void test_nothing_secret_is_unchanged(void **state)
{
    check("", "");
    check("sqlite:", "sqlite:");
    check("postgres://db.example.com:5432/cairn", "postgres://db.example.com:5432/cairn");
    check("postgres://cairn@db/cairn?application_name=x&user=password",
          "postgres://cairn@db/cairn?application_name=x&user=password");
    check("postgresql:///cairn?host=/var/run/postgresql",
          "postgresql:///cairn?host=/var/run/postgresql");
    check("nats://127.0.0.1:4222,nats://[::1]:4222", "nats://127.0.0.1:4222,nats://[::1]:4222");
    check("not a url", "not a url");
    check("host=db user=cairn", "host=db user=cairn");
}

static void test_userinfo_password(void **state)
{
    check("postgres://cairn:s3cret@127.0.0.1:5432/cairn",
          "postgres://cairn:***@127.0.0.1:5432/cairn");
    check("postgresql://cairn:@h/db", "postgresql://cairn:***@h/db");
    /* a password holding '@', '/', ',' or ':' is replaced whole, whatever libpq makes of it */
    check("postgres://u:p@s/s,w:x@h1,h2:5433/db", "postgres://u:***@h1,h2:5433/db");
    check("smtps://mailer:pw@mail.example.com:465", "smtps://mailer:***@mail.example.com:465");
    /* libpq ends the userinfo at '@', not at '?': a password with '?' is still one */
    check("postgres://cairn:s3cr?t@db:5432/cairn", "postgres://cairn:***@db:5432/cairn");
    check("postgres://cairn:s3cr?t@db/cairn?password=x",
          "postgres://cairn:***@db/cairn?password=***");
}

static void test_query_passwords(void **state)
{
    check("postgres:///db?host=/tmp&password=pw&sslpassword=k&port=5",
          "postgres:///db?host=/tmp&password=***&sslpassword=***&port=5");
    check("postgres://h/db?PassWord=pw", "postgres://h/db?PassWord=***");
    check("postgres://h/db?%70assword=pw", "postgres://h/db?%70assword=***");
    check("postgres://u:a@h/db?password=b", "postgres://u:***@h/db?password=***");
    /* libpq reads "h?password=a" as a user name here: still redacted */
    check("postgres://h?password=a@b", "postgres://***@b");
}

static void test_keyword_strings(void **state)
{
    /* libpq's key=value form is not accepted, but it is echoed when refused */
    check("host=db user=cairn password=s3cret port=5432",
          "host=db user=cairn password=*** port=5432");
    check("password = s3cret", "password = ***");
    check("sslpassword=k host=h", "sslpassword=*** host=h");
}

static void test_nats_tokens_and_lists(void **state)
{
    check("nats://t0ken@h:4222", "nats://***@h:4222");
    check("nats://u:p@a:4222,nats://b:4222, nats://t@c:4222",
          "nats://u:***@a:4222,nats://b:4222, nats://***@c:4222");
    /* a comma in a password does not start a new server */
    check("nats://u:pa,ss@h:4222", "nats://u:***@h:4222");
    check("nats://u:pa,nats://x@h:4222", "nats://***,nats://***@h:4222");
    check("nats://u:pa", "nats://***");
}

static void test_cut_to_capacity(void **state)
{
    char out[10];
    memset(out, 'x', sizeof(out));
    cn_url_redact("postgres://u:secret@h/db", out, sizeof(out));
    assert_string_equal(out, "postgres:");
    char one[1];
    cn_url_redact("postgres://u:secret@h/db", one, sizeof(one));
    assert_int_equal(one[0], '\0');
    /* cut inside the redaction: the secret never appears, even in part */
    char mid[20];
    cn_url_redact("postgres://u:secret@h/db", mid, sizeof(mid));
    assert_string_equal(mid, "postgres://u:***@h/");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_secret_is_unchanged),
        cmocka_unit_test(test_userinfo_password),
        cmocka_unit_test(test_query_passwords),
        cmocka_unit_test(test_keyword_strings),
        cmocka_unit_test(test_nats_tokens_and_lists),
        cmocka_unit_test(test_cut_to_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
