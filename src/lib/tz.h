/*
 * Time zones (IANA names, through ICU) and calendar buckets in local time, for reports
 * grouped by the tenant's hour, day, week or month. A cn_tz_t is used by one thread at a
 * time; opening one costs microseconds, so callers open one per report.
 */
#ifndef CAIRN_LIB_TZ_H
#define CAIRN_LIB_TZ_H

#include <stddef.h>
#include <stdint.h>

#define CN_TZ_NAME_MAX 64

typedef struct st_cn_tz_t cn_tz_t;

/** 1 when name is a time zone ICU knows ("Europe/Paris", "UTC"); aliases count. */
int cn_tz_valid(const char *name);

/** Opens a zone by IANA name. Returns 0, or -1 for an unknown name or no memory. */
int cn_tz_open(const char *name, cn_tz_t **out);
void cn_tz_close(cn_tz_t *tz);

/**
 * Offset from UTC (milliseconds, DST included) in force at utc_ms. Consecutive calls
 * with times inside the same period between two transitions cost a comparison, so
 * walking a sorted series is cheap.
 */
int64_t cn_tz_offset_ms(cn_tz_t *tz, int64_t utc_ms);

typedef enum { CN_TZ_HOUR = 0, CN_TZ_DAY, CN_TZ_WEEK, CN_TZ_MONTH } cn_tz_unit_t;

/** Parses "hour", "day", "week", "month". Returns the unit or -1. */
int cn_tz_unit_parse(const char *s);

/**
 * The start of the bucket holding a local wall-clock time (both as milliseconds since
 * 1970-01-01T00:00 local): hours, days, ISO weeks (Monday) or calendar months.
 */
int64_t cn_tz_bucket_start(int64_t local_ms, cn_tz_unit_t unit);

/** The start of the bucket after the one starting at local_ms. */
int64_t cn_tz_bucket_next(int64_t local_ms, cn_tz_unit_t unit);

/**
 * Formats a local wall-clock time with the zone's offset at that moment:
 * "2026-03-29T00:00:00+01:00" (25 bytes + NUL; buf >= 32). Returns the length.
 */
size_t cn_tz_format_local(cn_tz_t *tz, int64_t local_ms, char *buf);

/** Converts a local wall-clock time to UTC (the earlier instant when it is ambiguous). */
int64_t cn_tz_local_to_utc(cn_tz_t *tz, int64_t local_ms);

#endif
