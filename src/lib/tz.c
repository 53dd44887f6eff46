/*
 * Time zones (see tz.h). ICU does the zone rules; this file keeps the offset of the
 * current period between two transitions, so a report walking thousands of sorted
 * buckets asks ICU a handful of times, and does the calendar arithmetic itself (lib/civil.h)
 * because buckets are wall-clock values.
 */
#include "lib/tz.h"
#include "lib/civil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL

struct st_cn_tz_t {
    UCalendar *cal;
    int64_t from, until; /* the period [from, until) in which offset holds */
    int64_t offset;
};

static int to_uchars(const char *name, UChar *out, int32_t cap)
{
    size_t n = strlen(name);
    if (n == 0 || n >= (size_t)cap || n >= CN_TZ_NAME_MAX)
        return -1;
    for (size_t i = 0; i < n; i++) /* IANA names are ASCII */
        if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
            return -1;
    u_uastrncpy(out, name, (int32_t)n + 1);
    return (int32_t)n;
}

int cn_tz_valid(const char *name)
{
    UChar id[CN_TZ_NAME_MAX], canon[CN_TZ_NAME_MAX * 2];
    int32_t n = name ? to_uchars(name, id, CN_TZ_NAME_MAX) : -1;
    if (n < 0)
        return 0;
    UBool is_system = 0;
    UErrorCode status = U_ZERO_ERROR;
    ucal_getCanonicalTimeZoneID(id, n, canon, (int32_t)(sizeof(canon) / sizeof(canon[0])),
                                &is_system, &status);
    return U_SUCCESS(status) && is_system;
}

int cn_tz_open(const char *name, cn_tz_t **out)
{
    UChar id[CN_TZ_NAME_MAX];
    if (!cn_tz_valid(name))
        return -1;
    int32_t n = to_uchars(name, id, CN_TZ_NAME_MAX);
    UErrorCode status = U_ZERO_ERROR;
    UCalendar *cal = ucal_open(id, n, "en_US_POSIX", UCAL_GREGORIAN, &status);
    if (U_FAILURE(status))
        return -1;
    cn_tz_t *tz = calloc(1, sizeof(*tz));
    if (tz == NULL) {
        ucal_close(cal);
        return -1;
    }
    tz->cal = cal;
    tz->from = tz->until = 0; /* empty: the first lookup asks ICU */
    *out = tz;
    return 0;
}

void cn_tz_close(cn_tz_t *tz)
{
    if (tz == NULL)
        return;
    ucal_close(tz->cal);
    free(tz);
}

static int64_t transition(UCalendar *cal, UTimeZoneTransitionType type, int64_t none)
{
    UDate d;
    UErrorCode status = U_ZERO_ERROR;
    if (!ucal_getTimeZoneTransitionDate(cal, type, &d, &status) || U_FAILURE(status))
        return none;
    return (int64_t)d;
}

int64_t cn_tz_offset_ms(cn_tz_t *tz, int64_t utc_ms)
{
    if (utc_ms >= tz->from && utc_ms < tz->until)
        return tz->offset;
    UErrorCode status = U_ZERO_ERROR;
    ucal_setMillis(tz->cal, (UDate)utc_ms, &status);
    int32_t zone = ucal_get(tz->cal, UCAL_ZONE_OFFSET, &status);
    int32_t dst = ucal_get(tz->cal, UCAL_DST_OFFSET, &status);
    if (U_FAILURE(status))
        return 0;
    tz->offset = (int64_t)zone + dst;
    tz->from = transition(tz->cal, UCAL_TZ_TRANSITION_PREVIOUS_INCLUSIVE, INT64_MIN);
    tz->until = transition(tz->cal, UCAL_TZ_TRANSITION_NEXT, INT64_MAX);
    if (utc_ms < tz->from || utc_ms >= tz->until) /* ICU disagreed with itself: no cache */
        tz->from = tz->until = 0;
    return tz->offset;
}

int64_t cn_tz_local_to_utc(cn_tz_t *tz, int64_t local_ms)
{
    int64_t guess = local_ms - cn_tz_offset_ms(tz, local_ms);
    int64_t off = cn_tz_offset_ms(tz, guess);
    return local_ms - off;
}

int cn_tz_unit_parse(const char *s)
{
    static const char *const names[] = {"hour", "day", "week", "month"};
    for (int i = 0; s != NULL && i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t cn_tz_bucket_start(int64_t local_ms, cn_tz_unit_t unit)
{
    int64_t days = floor_div(local_ms, DAY_MS);
    switch (unit) {
    case CN_TZ_HOUR: return floor_div(local_ms, HOUR_MS) * HOUR_MS;
    case CN_TZ_DAY: return days * DAY_MS;
    case CN_TZ_WEEK: /* 1970-01-01 was a Thursday: Monday-based weekday is (days + 3) mod 7 */
        return (days - (days + 3 - floor_div(days + 3, 7) * 7)) * DAY_MS;
    case CN_TZ_MONTH: {
        int64_t y;
        int m, d;
        cn_civil_from_days(days, &y, &m, &d);
        return cn_days_from_civil(y, m, 1) * DAY_MS;
    }
    }
    return local_ms;
}

int64_t cn_tz_bucket_next(int64_t local_ms, cn_tz_unit_t unit)
{
    int64_t start = cn_tz_bucket_start(local_ms, unit);
    switch (unit) {
    case CN_TZ_HOUR: return start + HOUR_MS;
    case CN_TZ_DAY: return start + DAY_MS;
    case CN_TZ_WEEK: return start + 7 * DAY_MS;
    case CN_TZ_MONTH: {
        int64_t y;
        int m, d;
        cn_civil_from_days(floor_div(start, DAY_MS), &y, &m, &d);
        return cn_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * DAY_MS;
    }
    }
    return start;
}

size_t cn_tz_format_local(cn_tz_t *tz, int64_t local_ms, char *buf)
{
    int64_t off = cn_tz_offset_ms(tz, cn_tz_local_to_utc(tz, local_ms));
    int64_t days = floor_div(local_ms, DAY_MS), ms = local_ms - days * DAY_MS;
    int64_t y;
    int m, d;
    cn_civil_from_days(days, &y, &m, &d);
    int64_t off_min = (off < 0 ? -off : off) / 60000;
    int n = snprintf(buf, 32, "%04lld-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", (long long)y, m, d,
                     (int)(ms / HOUR_MS), (int)(ms / 60000 % 60), (int)(ms / 1000 % 60),
                     off < 0 ? '-' : '+', (int)(off_min / 60), (int)(off_min % 60));
    return n < 0 ? 0 : (size_t)n;
}
