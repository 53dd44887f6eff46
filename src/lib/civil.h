/*
 * Civil (proleptic Gregorian) dates and day numbers, the one conversion of the tree:
 * RFC 3339 parsing and formatting (formats.c) and local calendar buckets (tz.c) both count
 * days since 1970-01-01 through it. Pure functions, exact over the whole int64 day range
 * the callers use (Howard Hinnant's algorithms, floor division for dates before 1970).
 */
#ifndef CAIRN_LIB_CIVIL_H
#define CAIRN_LIB_CIVIL_H

#include <stdint.h>

/** Days since 1970-01-01 of the date y-m-d (m 1..12, d 1..31; day 0 is 1970-01-01). */
int64_t cn_days_from_civil(int64_t y, int m, int d);

/** The date of day z (days since 1970-01-01): year, month 1..12, day 1..31. */
void cn_civil_from_days(int64_t z, int64_t *y, int *m, int *d);

/** 1 for a Gregorian leap year (divisible by 4, and by 400 when by 100). */
int cn_is_leap_year(int64_t y);

/** Days in month m (1..12) of year y: 28..31. */
int cn_days_in_month(int64_t y, int m);

#endif
