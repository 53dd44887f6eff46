/*
 * Behaviour-pattern detectors (see patterns.h). Everything here is a pure function of its
 * arguments: it must never read the clock, a time zone or the store, and never allocate,
 * so tests replay hand-built histories and the workflow stays O(n) on any history.
 * Time differences are taken in double: int64 differences of hostile timestamps overflow.
 */
#include "lib/patterns.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MS_PER_DAY 86400000.0
#define DAYS_PER_WEEK 7.0
#define HOUR_WINDOW 3
#define LABEL_CUTOFF 0.05
#define TREND_MIN_CHANGE 0.1
#define RECENCY_HALF_LIFE_DAYS 7.0
#define ACTIVITY_SATURATION_DAYS_PER_WEEK 5.0
#define DIVERSITY_SATURATION_CHANNELS 3.0
#define ALL_DAYS 0x7fu

static const char *const channel_names[CN_CHANNEL_COUNT] = {"web", "mobile", "email", "chat",
                                                            "phone"};
static const char *const type_names[CN_PATTERN_TYPE_COUNT] = {
    "channel_frequency", "sentiment_trend", "temporal", "engagement"};

/* ---- names and small helpers ---- */

const char *cn_channel_name(int channel)
{
    return channel >= 0 && channel < CN_CHANNEL_COUNT ? channel_names[channel] : NULL;
}

int cn_channel_parse(const char *s, size_t len)
{
    for (int c = 0; c < CN_CHANNEL_COUNT; c++)
        if (strlen(channel_names[c]) == len && memcmp(s, channel_names[c], len) == 0)
            return c;
    return -1;
}

const char *cn_pattern_type_name(cn_pattern_type_t type)
{
    return (unsigned)type < CN_PATTERN_TYPE_COUNT ? type_names[type] : NULL;
}

const cn_pattern_meta_t *cn_pattern_meta_find(const cn_pattern_t *p, const char *key)
{
    for (size_t i = 0; i < p->n_meta; i++)
        if (strcmp(p->meta[i].key, key) == 0)
            return &p->meta[i];
    return NULL;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return a % b != 0 && a < 0 ? q - 1 : q;
}

void cn_interaction_set_local_time(cn_interaction_t *it, int64_t local_ms)
{
    int64_t hours = floor_div(local_ms, 3600000);
    int64_t days = floor_div(hours, 24);
    it->local_hour = (int)(hours - days * 24);
    it->local_wday = (int)((days % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
}

static double clamp01(double x)
{
    return x > 0 ? (x < 1 ? x : 1) : 0; /* NaN gives 0 */
}

static double days_between(int64_t from_ms, int64_t to_ms)
{
    return ((double)to_ms - (double)from_ms) / MS_PER_DAY;
}

static void pattern_reset(cn_pattern_t *p, cn_pattern_type_t type)
{
    memset(p, 0, sizeof *p);
    p->type = type;
    p->channel = -1;
}

/* The detectors add fewer entries than CN_PATTERN_META_MAX; the check only guards it. */
static void meta_push(cn_pattern_t *p, cn_pattern_meta_t m)
{
    if (p->n_meta < CN_PATTERN_META_MAX)
        p->meta[p->n_meta++] = m;
}

static void meta_text(cn_pattern_t *p, const char *key, const char *text)
{
    meta_push(p, (cn_pattern_meta_t){.key = key, .kind = CN_META_TEXT, .text = text});
}

static void meta_int(cn_pattern_t *p, const char *key, int64_t v)
{
    meta_push(p, (cn_pattern_meta_t){.key = key, .kind = CN_META_INT, .integer = v});
}

/* JSON has no NaN or infinity: such a value is stored as 0. */
static void meta_real(cn_pattern_t *p, const char *key, double v)
{
    meta_push(p,
              (cn_pattern_meta_t){.key = key, .kind = CN_META_REAL, .real = isfinite(v) ? v : 0});
}

/* Distinct local dates of sorted items: a new date starts when the weekday changes or a
 * day has passed (two dates with the same weekday are a week apart). */
static size_t count_local_days(const cn_interaction_t *items, size_t n)
{
    size_t days = n > 0;
    for (size_t i = 1; i < n; i++)
        if (items[i].local_wday != items[i - 1].local_wday ||
            days_between(items[i - 1].at_ms, items[i].at_ms) >= 1.0)
            days++;
    return days;
}

/* ---- channel frequency ---- */

typedef struct {
    size_t uses, n_gaps;
    int64_t first_ms, last_ms;
    double mean_gap, m2; /* Welford: mean and summed squared deviation of the gaps, in days */
} gap_stats_t;

static gap_stats_t channel_gaps(const cn_interaction_t *items, size_t n, int channel)
{
    gap_stats_t g = {0};
    for (size_t i = 0; i < n; i++) {
        if (items[i].channel != channel)
            continue;
        if (g.uses++ == 0) {
            g.first_ms = items[i].at_ms;
        } else {
            double gap = days_between(g.last_ms, items[i].at_ms);
            double delta = gap - g.mean_gap;
            g.mean_gap += delta / (double)++g.n_gaps;
            g.m2 += delta * (gap - g.mean_gap);
        }
        g.last_ms = items[i].at_ms;
    }
    return g;
}

static double regularity(const gap_stats_t *g)
{
    if (g->n_gaps < 2 || !(g->mean_gap > 0) ||
        days_between(g->first_ms, g->last_ms) < CN_PATTERNS_MIN_SPAN_DAYS)
        return 0;
    double sd = sqrt(g->m2 > 0 ? g->m2 / (double)g->n_gaps : 0);
    return clamp01(1 - sd / g->mean_gap);
}

static void format_gap(char *buf, size_t size, double days)
{
    if (days >= 1)
        snprintf(buf, size, "%.1f days", days);
    else if (days * 24 >= 1)
        snprintf(buf, size, "%.1f hours", days * 24);
    else
        snprintf(buf, size, "%.0f minutes", days * 24 * 60);
}

int cn_pattern_channel_frequency(const cn_interaction_t *items, size_t n, int channel,
                                 cn_pattern_t *out)
{
    pattern_reset(out, CN_PATTERN_CHANNEL_FREQUENCY);
    out->channel = channel;
    const char *name = cn_channel_name(channel);
    if (name == NULL || items == NULL)
        return 0;
    gap_stats_t g = channel_gaps(items, n, channel);
    out->confidence = regularity(&g);
    out->frequency = (double)g.uses;
    meta_text(out, "channel", name);
    meta_int(out, "uses", (int64_t)g.uses);
    meta_real(out, "mean_gap_days", g.mean_gap);
    meta_real(out, "per_week", g.mean_gap > 0 ? DAYS_PER_WEEK / g.mean_gap : 0);
    meta_real(out, "regularity", out->confidence);
    if (g.uses < CN_PATTERNS_MIN_CHANNEL_USES || !(out->confidence > CN_PATTERNS_MIN_CONFIDENCE))
        return 0;
    char gap[32];
    format_gap(gap, sizeof gap, g.mean_gap);
    snprintf(out->description, sizeof out->description,
             "Uses %s regularly (%zu times in %d days, about every %s)", name, g.uses,
             CN_PATTERNS_WINDOW_DAYS, gap);
    return 1;
}

/* ---- sentiment trend ---- */

enum { LABEL_POSITIVE, LABEL_NEGATIVE, LABEL_NEUTRAL, LABEL_COUNT };
static const char *const label_names[LABEL_COUNT] = {"positive", "negative", "neutral"};

typedef struct {
    size_t n, by_label[LABEL_COUNT];
    int64_t t0_ms;
    /* x: days since the first analysed item, y: compound; Welford means and co-moments */
    double mean_x, mean_y, sxx, sxy, last_x;
} sentiment_stats_t;

static int label_of(double compound)
{
    if (compound >= LABEL_CUTOFF)
        return LABEL_POSITIVE;
    return compound <= -LABEL_CUTOFF ? LABEL_NEGATIVE : LABEL_NEUTRAL;
}

static sentiment_stats_t sentiment_stats(const cn_interaction_t *items, size_t n)
{
    sentiment_stats_t s = {0};
    for (size_t i = 0; i < n; i++) {
        if (!items[i].has_sentiment || !isfinite(items[i].compound))
            continue;
        double y = fmax(-1, fmin(1, items[i].compound));
        if (s.n == 0)
            s.t0_ms = items[i].at_ms;
        double x = days_between(s.t0_ms, items[i].at_ms);
        s.by_label[label_of(y)]++;
        s.n++;
        double dx = x - s.mean_x;
        s.mean_x += dx / (double)s.n;
        s.mean_y += (y - s.mean_y) / (double)s.n;
        s.sxx += dx * (x - s.mean_x);
        s.sxy += dx * (y - s.mean_y);
        s.last_x = x;
    }
    return s;
}

static int dominant_label(const sentiment_stats_t *s)
{
    int best = LABEL_POSITIVE;
    for (int l = 1; l < LABEL_COUNT; l++)
        if (s->by_label[l] > s->by_label[best])
            best = l;
    return best;
}

static double slope_per_day(const sentiment_stats_t *s)
{
    double slope = s->sxx > 0 ? s->sxy / s->sxx : 0;
    return isfinite(slope) ? slope : 0;
}

static const char *trend_name(const sentiment_stats_t *s)
{
    double change = slope_per_day(s) * s->last_x;
    if (change >= TREND_MIN_CHANGE)
        return "improving";
    return change <= -TREND_MIN_CHANGE ? "declining" : "stable";
}

int cn_pattern_sentiment_trend(const cn_interaction_t *items, size_t n, cn_pattern_t *out)
{
    pattern_reset(out, CN_PATTERN_SENTIMENT_TREND);
    if (items == NULL)
        return 0;
    sentiment_stats_t s = sentiment_stats(items, n);
    int dominant = dominant_label(&s);
    const char *trend = trend_name(&s);
    size_t agreeing = s.by_label[dominant];
    if (s.n >= CN_PATTERNS_MIN_ANALYSED)
        out->confidence = (double)agreeing / (double)s.n;
    out->frequency = (double)agreeing;
    meta_text(out, "direction", label_names[dominant]);
    meta_text(out, "trend", trend);
    meta_real(out, "slope_per_week", slope_per_day(&s) * DAYS_PER_WEEK);
    meta_real(out, "mean_compound", s.mean_y);
    meta_int(out, "analysed", (int64_t)s.n);
    if (!(out->confidence > CN_PATTERNS_MIN_CONFIDENCE))
        return 0;
    snprintf(out->description, sizeof out->description,
             "Consistently %s sentiment (%zu of %zu analysed interactions), trend %s",
             label_names[dominant], agreeing, s.n, trend);
    return 1;
}

/* ---- temporal ---- */

typedef struct {
    size_t n, by_hour[24], by_wday[7];
    int64_t first_ms, last_ms;
} clock_hist_t;

typedef struct {
    const char *key, *phrase;
    unsigned mask; /* bit d: weekday d (0 = Sunday) */
    int n_days;
} day_window_t;

/* Narrower windows first: on a tie the more specific one is reported. */
static const day_window_t day_windows[] = {
    {"sunday", "on Sundays", 1u << 0, 1},     {"monday", "on Mondays", 1u << 1, 1},
    {"tuesday", "on Tuesdays", 1u << 2, 1},   {"wednesday", "on Wednesdays", 1u << 3, 1},
    {"thursday", "on Thursdays", 1u << 4, 1}, {"friday", "on Fridays", 1u << 5, 1},
    {"saturday", "on Saturdays", 1u << 6, 1}, {"weekend", "at weekends", (1u << 0) | (1u << 6), 2},
    {"weekdays", "on weekdays", 0x3eu, 5},
};

static int has_clock(const cn_interaction_t *it)
{
    return it->local_hour >= 0 && it->local_hour < 24 && it->local_wday >= 0 && it->local_wday < 7;
}

static clock_hist_t clock_hist(const cn_interaction_t *items, size_t n)
{
    clock_hist_t h = {0};
    for (size_t i = 0; i < n; i++) {
        if (!has_clock(&items[i]))
            continue;
        if (h.n++ == 0)
            h.first_ms = items[i].at_ms;
        h.last_ms = items[i].at_ms;
        h.by_hour[items[i].local_hour]++;
        h.by_wday[items[i].local_wday]++;
    }
    return h;
}

static double concentration(size_t inside, size_t total, double chance)
{
    return total == 0 ? 0 : clamp01(((double)inside / (double)total - chance) / (1 - chance));
}

static size_t hour_window_count(const clock_hist_t *h, int start)
{
    size_t count = 0;
    for (int k = 0; k < HOUR_WINDOW; k++)
        count += h->by_hour[(start + k) % 24];
    return count;
}

static int best_hour_start(const clock_hist_t *h)
{
    int best = 0;
    for (int start = 1; start < 24; start++) {
        size_t count = hour_window_count(h, start), best_count = hour_window_count(h, best);
        size_t middle = h->by_hour[(start + HOUR_WINDOW / 2) % 24];
        size_t best_middle = h->by_hour[(best + HOUR_WINDOW / 2) % 24];
        if (count > best_count || (count == best_count && middle > best_middle))
            best = start;
    }
    return best;
}

static size_t day_window_count(const clock_hist_t *h, unsigned mask)
{
    size_t count = 0;
    for (int d = 0; d < 7; d++)
        if (mask & (1u << d))
            count += h->by_wday[d];
    return count;
}

static const day_window_t *best_day_window(const clock_hist_t *h, double *score)
{
    const day_window_t *best = &day_windows[0];
    *score = -1;
    for (size_t i = 0; i < sizeof day_windows / sizeof day_windows[0]; i++) {
        const day_window_t *w = &day_windows[i];
        double s = concentration(day_window_count(h, w->mask), h->n, w->n_days / 7.0);
        if (s > *score) {
            best = w;
            *score = s;
        }
    }
    return best;
}

static int in_hour_window(int hour, int start)
{
    return (hour - start + 24) % 24 < HOUR_WINDOW;
}

/* Items with a clock inside the hour window (any hour when start < 0) and the day mask. */
static size_t count_inside(const cn_interaction_t *items, size_t n, int start, unsigned mask)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (has_clock(&items[i]) && (start < 0 || in_hour_window(items[i].local_hour, start)) &&
            (mask & (1u << items[i].local_wday)))
            count++;
    return count;
}

static void describe_temporal(cn_pattern_t *out, int start, const day_window_t *day, size_t inside,
                              size_t n)
{
    char hours[40] = "";
    if (start >= 0)
        snprintf(hours, sizeof hours, " between %02d:00 and %02d:00", start,
                 (start + HOUR_WINDOW) % 24);
    snprintf(out->description, sizeof out->description,
             "Usually active%s%s%s (%zu of %zu interactions)", hours, day ? " " : "",
             day ? day->phrase : "", inside, n);
}

int cn_pattern_temporal(const cn_interaction_t *items, size_t n, cn_pattern_t *out)
{
    pattern_reset(out, CN_PATTERN_TEMPORAL);
    if (items == NULL)
        return 0;
    clock_hist_t h = clock_hist(items, n);
    if (h.n < CN_PATTERNS_MIN_INTERACTIONS ||
        days_between(h.first_ms, h.last_ms) < CN_PATTERNS_MIN_SPAN_DAYS)
        return 0;
    int start = best_hour_start(&h);
    double hour_score = concentration(hour_window_count(&h, start), h.n, HOUR_WINDOW / 24.0);
    double day_score;
    const day_window_t *day = best_day_window(&h, &day_score);
    int hour_counts = hour_score > CN_PATTERNS_MIN_CONFIDENCE;
    int day_counts = day_score > CN_PATTERNS_MIN_CONFIDENCE;
    out->confidence = fmax(hour_score, day_score);
    if (hour_counts) {
        meta_int(out, "hour_start", start);
        meta_int(out, "hour_end", (start + HOUR_WINDOW) % 24);
    }
    if (day_counts)
        meta_text(out, "days", day->key);
    meta_real(out, "hour_score", hour_score);
    meta_real(out, "day_score", day_score);
    if (!hour_counts && !day_counts)
        return 0;
    size_t inside =
        count_inside(items, n, hour_counts ? start : -1, day_counts ? day->mask : ALL_DAYS);
    out->frequency = (double)inside;
    if (inside == 0)
        return 0;
    describe_temporal(out, hour_counts ? start : -1, day_counts ? day : NULL, inside, h.n);
    return 1;
}

/* ---- engagement ---- */

typedef struct {
    double days_since_last, recency, activity, diversity, score;
    size_t active_days, channels;
} engagement_t;

static size_t count_channels(const cn_interaction_t *items, size_t n)
{
    unsigned seen = 0;
    for (size_t i = 0; i < n; i++)
        if (cn_channel_name(items[i].channel) != NULL)
            seen |= 1u << items[i].channel;
    size_t count = 0;
    for (; seen != 0; seen &= seen - 1)
        count++;
    return count;
}

static engagement_t engagement(const cn_interaction_t *items, size_t n, int64_t now_ms)
{
    engagement_t e = {0};
    if (n == 0)
        return e;
    int64_t last_ms = items[0].at_ms;
    for (size_t i = 1; i < n; i++)
        if (items[i].at_ms > last_ms)
            last_ms = items[i].at_ms;
    e.days_since_last = fmax(0, days_between(last_ms, now_ms));
    e.recency = exp2(-e.days_since_last / RECENCY_HALF_LIFE_DAYS);
    /* a window of 30 days touches 31 dates when it starts mid-day */
    e.active_days = count_local_days(items, n);
    if (e.active_days > CN_PATTERNS_WINDOW_DAYS)
        e.active_days = CN_PATTERNS_WINDOW_DAYS;
    double per_week = (double)e.active_days * DAYS_PER_WEEK / CN_PATTERNS_WINDOW_DAYS;
    e.activity = clamp01(per_week / ACTIVITY_SATURATION_DAYS_PER_WEEK);
    e.channels = count_channels(items, n);
    e.diversity = clamp01((double)e.channels / DIVERSITY_SATURATION_CHANNELS);
    e.score = clamp01(0.4 * e.recency + 0.4 * e.activity + 0.2 * e.diversity);
    return e;
}

static void describe_engagement(cn_pattern_t *out, const engagement_t *e)
{
    char seen[32];
    if (e->days_since_last < 1)
        snprintf(seen, sizeof seen, "today");
    else
        snprintf(seen, sizeof seen, "%.0f days ago", floor(e->days_since_last));
    snprintf(out->description, sizeof out->description,
             "Highly engaged: active on %zu of the last %d days on %zu channel%s, last seen %s",
             e->active_days, CN_PATTERNS_WINDOW_DAYS, e->channels, e->channels == 1 ? "" : "s",
             seen);
}

int cn_pattern_engagement(const cn_interaction_t *items, size_t n, int64_t now_ms,
                          cn_pattern_t *out)
{
    pattern_reset(out, CN_PATTERN_ENGAGEMENT);
    if (items == NULL)
        return 0;
    engagement_t e = engagement(items, n, now_ms);
    out->confidence = e.score;
    out->frequency = (double)n;
    meta_text(out, "level", e.score > CN_PATTERNS_MIN_CONFIDENCE ? "high" : "normal");
    meta_real(out, "days_since_last", e.days_since_last);
    meta_int(out, "active_days", (int64_t)e.active_days);
    meta_int(out, "channels", (int64_t)e.channels);
    meta_real(out, "recency", e.recency);
    meta_real(out, "activity", e.activity);
    meta_real(out, "diversity", e.diversity);
    if (n == 0 || !(e.score > CN_PATTERNS_MIN_CONFIDENCE))
        return 0;
    describe_engagement(out, &e);
    return 1;
}

/* ---- the workflow ---- */

static int is_time_sorted(const cn_interaction_t *items, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (items[i].at_ms < items[i - 1].at_ms)
            return 0;
    return 1;
}

/* Index of the first item later than t_ms (items sorted). */
static size_t first_after(const cn_interaction_t *items, size_t n, int64_t t_ms)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (items[mid].at_ms <= t_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int64_t window_start(int64_t now_ms)
{
    return now_ms < INT64_MIN + CN_PATTERNS_WINDOW_MS ? INT64_MIN : now_ms - CN_PATTERNS_WINDOW_MS;
}

static size_t run_detectors(const cn_interaction_t *items, size_t n, int64_t now_ms,
                            cn_pattern_t found[CN_PATTERNS_MAX])
{
    size_t k = 0;
    for (int c = 0; c < CN_CHANNEL_COUNT; c++)
        k += (size_t)cn_pattern_channel_frequency(items, n, c, &found[k]);
    k += (size_t)cn_pattern_sentiment_trend(items, n, &found[k]);
    k += (size_t)cn_pattern_temporal(items, n, &found[k]);
    k += (size_t)cn_pattern_engagement(items, n, now_ms, &found[k]);
    return k;
}

static int is_reportable(const cn_pattern_t *p)
{
    return p->confidence >= CN_PATTERNS_MIN_CONFIDENCE && p->confidence <= 1 && p->frequency > 0 &&
           isfinite(p->frequency);
}

/* Higher confidence first; equal ones in a fixed order so stored rows do not churn. */
static int ranks_before(const cn_pattern_t *a, const cn_pattern_t *b)
{
    if (a->confidence != b->confidence)
        return a->confidence > b->confidence;
    if (a->type != b->type)
        return a->type < b->type;
    return a->channel < b->channel;
}

/* Insertion sort: there are at most CN_PATTERNS_MAX patterns. */
static void sort_patterns(cn_pattern_t *p, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        cn_pattern_t key = p[i];
        size_t j = i;
        for (; j > 0 && ranks_before(&key, &p[j - 1]); j--)
            p[j] = p[j - 1];
        p[j] = key;
    }
}

int cn_patterns_detect(const cn_interaction_t *items, size_t n, int64_t now_ms, cn_pattern_t *out,
                       size_t cap)
{
    if ((items == NULL && n > 0) || (out == NULL && cap > 0) || !is_time_sorted(items, n))
        return -1;
    size_t first = first_after(items, n, window_start(now_ms));
    size_t end = first_after(items, n, now_ms);
    if (end - first < CN_PATTERNS_MIN_INTERACTIONS)
        return 0;
    cn_pattern_t found[CN_PATTERNS_MAX];
    size_t n_found = run_detectors(items + first, end - first, now_ms, found);
    size_t kept = 0;
    for (size_t i = 0; i < n_found; i++)
        if (is_reportable(&found[i]))
            found[kept++] = found[i];
    sort_patterns(found, kept);
    size_t n_out = kept < cap ? kept : cap;
    for (size_t i = 0; i < n_out; i++)
        out[i] = found[i];
    return (int)n_out;
}

int64_t cn_patterns_valid_until(int64_t detected_at_ms)
{
    return detected_at_ms > INT64_MAX - CN_PATTERNS_VALID_MS
               ? INT64_MAX
               : detected_at_ms + CN_PATTERNS_VALID_MS;
}
