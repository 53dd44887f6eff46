/* Time zones and local calendar buckets (src/lib/tz.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/formats.h"
#include "lib/tz.h"

static int64_t at(const char *rfc3339)
{
    int64_t ms = 0;
    assert_int_equal(cn_parse_rfc3339(rfc3339, strlen(rfc3339), &ms), 0);
    return ms;
}

static void test_valid_names(void **state)
{
    (void)state;
    assert_true(cn_tz_valid("UTC"));
    assert_true(cn_tz_valid("Europe/Paris"));
    assert_true(cn_tz_valid("America/New_York"));
    assert_true(cn_tz_valid("Asia/Kolkata"));
    assert_false(cn_tz_valid("Mars/Olympus"));
    assert_false(cn_tz_valid(""));
    assert_false(cn_tz_valid(NULL));
    assert_false(cn_tz_valid("Europe/Paris\n"));
    char long_name[200];
    memset(long_name, 'A', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_false(cn_tz_valid(long_name));
}

static void test_offsets_follow_dst(void **state)
{
    (void)state;
    cn_tz_t *tz;
    assert_int_equal(cn_tz_open("Europe/Paris", &tz), 0);
    assert_int_equal(cn_tz_offset_ms(tz, at("2026-01-15T12:00:00Z")), 3600000);
    assert_int_equal(cn_tz_offset_ms(tz, at("2026-07-15T12:00:00Z")), 7200000);
    /* the 2026 spring change is 2026-03-29T01:00Z */
    assert_int_equal(cn_tz_offset_ms(tz, at("2026-03-29T00:59:59Z")), 3600000);
    assert_int_equal(cn_tz_offset_ms(tz, at("2026-03-29T01:00:00Z")), 7200000);
    /* going backwards in time must not reuse the later period */
    assert_int_equal(cn_tz_offset_ms(tz, at("2025-12-31T23:00:00Z")), 3600000);
    cn_tz_close(tz);
    assert_int_equal(cn_tz_open("Asia/Kolkata", &tz), 0);
    assert_int_equal(cn_tz_offset_ms(tz, at("2026-07-15T12:00:00Z")), 19800000);
    cn_tz_close(tz);
    assert_int_equal(cn_tz_open("Nowhere/Else", &tz), -1);
}

static void test_buckets(void **state)
{
    (void)state;
    int64_t t = at("2026-11-22T13:45:10Z"); /* a Sunday */
    assert_int_equal(cn_tz_bucket_start(t, CN_TZ_HOUR), at("2026-11-22T13:00:00Z"));
    assert_int_equal(cn_tz_bucket_start(t, CN_TZ_DAY), at("2026-11-22T00:00:00Z"));
    assert_int_equal(cn_tz_bucket_start(t, CN_TZ_WEEK), at("2026-11-16T00:00:00Z"));
    assert_int_equal(cn_tz_bucket_start(t, CN_TZ_MONTH), at("2026-11-01T00:00:00Z"));
    assert_int_equal(cn_tz_bucket_next(t, CN_TZ_MONTH), at("2026-12-01T00:00:00Z"));
    assert_int_equal(cn_tz_bucket_next(at("2026-12-05T00:00:00Z"), CN_TZ_MONTH),
                     at("2027-01-01T00:00:00Z"));
    assert_int_equal(cn_tz_bucket_next(at("2028-02-10T00:00:00Z"), CN_TZ_MONTH),
                     at("2028-03-01T00:00:00Z"));
    /* a Monday is its own week's start; before 1970 floors the right way */
    assert_int_equal(cn_tz_bucket_start(at("2026-11-16T00:00:00Z"), CN_TZ_WEEK),
                     at("2026-11-16T00:00:00Z"));
    assert_int_equal(cn_tz_bucket_start(at("1969-12-31T23:30:00Z"), CN_TZ_DAY),
                     at("1969-12-31T00:00:00Z"));
    assert_int_equal(cn_tz_unit_parse("week"), CN_TZ_WEEK);
    assert_int_equal(cn_tz_unit_parse("fortnight"), -1);
}

static void test_format_local(void **state)
{
    (void)state;
    cn_tz_t *tz;
    assert_int_equal(cn_tz_open("America/New_York", &tz), 0);
    char buf[32];
    int64_t local = at("2026-07-04T00:00:00Z"); /* wall clock, written as if UTC */
    cn_tz_format_local(tz, local, buf);
    assert_string_equal(buf, "2026-07-04T00:00:00-04:00");
    assert_int_equal(cn_tz_local_to_utc(tz, local), at("2026-07-04T04:00:00Z"));
    cn_tz_format_local(tz, at("2026-01-04T00:00:00Z"), buf);
    assert_string_equal(buf, "2026-01-04T00:00:00-05:00");
    cn_tz_close(tz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_names),
        cmocka_unit_test(test_offsets_follow_dst),
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_format_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
