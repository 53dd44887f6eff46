/*
 * Unit tests for civil dates (src/lib/civil.h): known day numbers, leap years, month
 * lengths, a round trip over ±2.7 million years, and glibc's gmtime_r/timegm as an
 * independent reference for every day from 1600 to 2600.
 */
#include "lib/civil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static void test_known_days(void **state)
{
    static const struct {
        int64_t y;
        int m, d;
        int64_t days;
    } cases[] = {
        {1970, 1, 1, 0},     {1969, 12, 31, -1},   {1970, 3, 1, 59},      {2000, 2, 29, 11016},
        {2000, 3, 1, 11017}, {2026, 12, 7, 20794}, {1900, 3, 1, -25508},  {1600, 1, 1, -135140},
        {0, 3, 1, -719468},  {0, 2, 29, -719469},  {-1, 12, 31, -719529}, {9999, 12, 31, 2932896},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t days = cn_days_from_civil(cases[i].y, cases[i].m, cases[i].d);
        if (days != cases[i].days)
            fail_msg("%lld-%02d-%02d: %lld days, want %lld", (long long)cases[i].y, cases[i].m,
                     cases[i].d, (long long)days, (long long)cases[i].days);
        int64_t y;
        int m, d;
        cn_civil_from_days(cases[i].days, &y, &m, &d);
        assert_int_equal(y, cases[i].y);
        assert_int_equal(m, cases[i].m);
        assert_int_equal(d, cases[i].d);
    }
}

static void test_leap_years_and_month_lengths(void **state)
{
    static const int64_t leap[] = {2000, 2024, 1996, 1600, 2400, 0, -4, -400, 4};
    static const int64_t common[] = {1900, 2100, 2023, 1800, 2200, -1, -100, 1, 2026};
    for (size_t i = 0; i < sizeof(leap) / sizeof(leap[0]); i++) {
        assert_true(cn_is_leap_year(leap[i]));
        assert_int_equal(cn_days_in_month(leap[i], 2), 29);
        /* the day after Feb 28 is Feb 29 */
        int64_t y;
        int m, d;
        cn_civil_from_days(cn_days_from_civil(leap[i], 2, 28) + 1, &y, &m, &d);
        assert_int_equal(m * 100 + d, 229);
        assert_int_equal(cn_days_from_civil(leap[i] + 1, 1, 1) - cn_days_from_civil(leap[i], 1, 1),
                         366);
    }
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
        assert_false(cn_is_leap_year(common[i]));
        assert_int_equal(cn_days_in_month(common[i], 2), 28);
        int64_t y;
        int m, d;
        cn_civil_from_days(cn_days_from_civil(common[i], 2, 28) + 1, &y, &m, &d);
        assert_int_equal(m * 100 + d, 301);
        assert_int_equal(
            cn_days_from_civil(common[i] + 1, 1, 1) - cn_days_from_civil(common[i], 1, 1), 365);
    }
    static const int lengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int m = 1; m <= 12; m++)
        assert_int_equal(cn_days_in_month(2023, m), lengths[m - 1]);
}

/* Every day of ±1e9 days (about ±2.7 million years) in steps, and every day of ±1e6:
 * days -> date -> days is the identity, the date is valid and consecutive days are
 * consecutive dates. */
static void test_round_trip_wide_range(void **state)
{
    int64_t prev_y = 0;
    int prev_m = 0, prev_d = 0;
    for (int64_t z = -1000000; z <= 1000000; z++) {
        int64_t y;
        int m, d;
        cn_civil_from_days(z, &y, &m, &d);
        assert_true(m >= 1 && m <= 12 && d >= 1 && d <= cn_days_in_month(y, m));
        assert_int_equal(cn_days_from_civil(y, m, d), z);
        if (z > -1000000) { /* the next date after the previous one */
            int next = prev_d < cn_days_in_month(prev_y, prev_m);
            assert_int_equal(d, next ? prev_d + 1 : 1);
            assert_int_equal(m, next ? prev_m : prev_m % 12 + 1);
            assert_int_equal(y, next || prev_m < 12 ? prev_y : prev_y + 1);
        }
        prev_y = y, prev_m = m, prev_d = d;
    }
    for (int64_t z = -1000000000; z <= 1000000000; z += 99991) {
        int64_t y;
        int m, d;
        cn_civil_from_days(z, &y, &m, &d);
        assert_int_equal(cn_days_from_civil(y, m, d), z);
    }
}

/* glibc's calendar as the reference, from 1600-01-01 to 2600-12-31. */
static void test_agrees_with_gmtime(void **state)
{
    for (int64_t z = -135140; z <= 230000; z++) {
        time_t t = (time_t)(z * 86400);
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        int64_t y;
        int m, d;
        cn_civil_from_days(z, &y, &m, &d);
        if (y != tm.tm_year + 1900 || m != tm.tm_mon + 1 || d != tm.tm_mday)
            fail_msg("day %lld: %lld-%02d-%02d, gmtime %d-%02d-%02d", (long long)z, (long long)y, m,
                     d, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        assert_int_equal(cn_days_from_civil(y, m, d) * 86400, (int64_t)timegm(&tm));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_days),
        cmocka_unit_test(test_leap_years_and_month_lengths),
        cmocka_unit_test(test_round_trip_wide_range),
        cmocka_unit_test(test_agrees_with_gmtime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
