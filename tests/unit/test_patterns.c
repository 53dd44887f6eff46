/*
 * Unit tests for the behaviour-pattern detectors (src/lib/patterns.h) on hand-built
 * histories: a customer who e-mails every two days, one who uses channels at random, a
 * consistently positive one, weekday mornings, daily activity and a dormant customer;
 * then the workflow's rules (5 interactions, 30-day window, confidence filter, order),
 * degenerate inputs and Property 6 over many seeded random histories. Local time is UTC.
 */
#include "lib/patterns.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#define MINUTE_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
/* 2026-11-23T12:00:00Z, a Monday */
#define NOW 1795435200000LL
#define MIDNIGHT (NOW - 12 * HOUR_MS)
#define MAX_ITEMS 256
#define HUGE_ITEMS 100000

static cn_interaction_t hist[MAX_ITEMS];
static size_t n_hist;
static cn_pattern_t found[CN_PATTERNS_MAX];

static void reset(void)
{
    n_hist = 0;
}

static cn_interaction_t *add(int64_t at_ms, int channel)
{
    cn_interaction_t *it = &hist[n_hist++];
    *it = (cn_interaction_t){.at_ms = at_ms, .channel = channel};
    cn_interaction_set_local_time(it, at_ms);
    return it;
}

static void add_scored(int64_t at_ms, int channel, double compound)
{
    cn_interaction_t *it = add(at_ms, channel);
    it->has_sentiment = 1;
    it->compound = compound;
}

/* days_ago 0 is NOW's date; its weekday is (1 - days_ago) mod 7 */
static int64_t day_at(int days_ago, int hour, int minute)
{
    return MIDNIGHT - days_ago * DAY_MS + hour * HOUR_MS + minute * MINUTE_MS;
}

static int cmp_at(const void *a, const void *b)
{
    int64_t x = ((const cn_interaction_t *)a)->at_ms, y = ((const cn_interaction_t *)b)->at_ms;
    return (x > y) - (x < y);
}

static void sort_hist(void)
{
    qsort(hist, n_hist, sizeof hist[0], cmp_at);
}

/* splitmix64: a fixed seed gives the same histories on every run */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unit(void)
{
    return (double)(rng_next() >> 11) / 9007199254740992.0;
}

static int rng_below(int n)
{
    return (int)(rng_next() % (uint64_t)n);
}

static const cn_pattern_t *find_type(int n, cn_pattern_type_t type, int channel)
{
    for (int i = 0; i < n; i++)
        if (found[i].type == type && found[i].channel == channel)
            return &found[i];
    return NULL;
}

static double meta_real(const cn_pattern_t *p, const char *key)
{
    const cn_pattern_meta_t *m = cn_pattern_meta_find(p, key);
    assert_non_null(m);
    assert_int_equal(m->kind, CN_META_REAL);
    return m->real;
}

static int64_t meta_int(const cn_pattern_t *p, const char *key)
{
    const cn_pattern_meta_t *m = cn_pattern_meta_find(p, key);
    assert_non_null(m);
    assert_int_equal(m->kind, CN_META_INT);
    return m->integer;
}

static const char *meta_text(const cn_pattern_t *p, const char *key)
{
    const cn_pattern_meta_t *m = cn_pattern_meta_find(p, key);
    assert_non_null(m);
    assert_int_equal(m->kind, CN_META_TEXT);
    return m->text;
}

static void add_random_times(int count, int span_days)
{
    for (int i = 0; i < count; i++)
        add(NOW - (int64_t)(rng_unit() * span_days * DAY_MS), rng_below(CN_CHANNEL_COUNT));
    sort_hist();
}

/* ---- names and local time ---- */

static void test_names(void **state)
{
    assert_string_equal(cn_channel_name(CN_CHANNEL_WEB), "web");
    assert_string_equal(cn_channel_name(CN_CHANNEL_PHONE), "phone");
    assert_null(cn_channel_name(-1));
    assert_null(cn_channel_name(CN_CHANNEL_COUNT));
    for (int c = 0; c < CN_CHANNEL_COUNT; c++)
        assert_int_equal(cn_channel_parse(cn_channel_name(c), strlen(cn_channel_name(c))), c);
    assert_int_equal(cn_channel_parse("Email", 5), -1);
    assert_int_equal(cn_channel_parse("emails", 6), -1);
    assert_int_equal(cn_channel_parse("email", 4), -1);
    assert_int_equal(cn_channel_parse("", 0), -1);
    assert_string_equal(cn_pattern_type_name(CN_PATTERN_CHANNEL_FREQUENCY), "channel_frequency");
    assert_string_equal(cn_pattern_type_name(CN_PATTERN_SENTIMENT_TREND), "sentiment_trend");
    assert_string_equal(cn_pattern_type_name(CN_PATTERN_TEMPORAL), "temporal");
    assert_string_equal(cn_pattern_type_name(CN_PATTERN_ENGAGEMENT), "engagement");
    assert_null(cn_pattern_type_name(CN_PATTERN_TYPE_COUNT));
    assert_null(cn_pattern_type_name((cn_pattern_type_t)-1));
}

static void test_local_time(void **state)
{
    cn_interaction_t it;
    cn_interaction_set_local_time(&it, 0); /* 1970-01-01T00:00, a Thursday */
    assert_int_equal(it.local_hour, 0);
    assert_int_equal(it.local_wday, 4);
    cn_interaction_set_local_time(&it, -1); /* the Wednesday before, 23:59:59.999 */
    assert_int_equal(it.local_hour, 23);
    assert_int_equal(it.local_wday, 3);
    cn_interaction_set_local_time(&it, NOW);
    assert_int_equal(it.local_hour, 12);
    assert_int_equal(it.local_wday, 1);
    cn_interaction_set_local_time(&it, NOW + 2 * HOUR_MS + 5 * DAY_MS); /* Saturday 14:00 */
    assert_int_equal(it.local_hour, 14);
    assert_int_equal(it.local_wday, 6);
    cn_interaction_set_local_time(&it, INT64_MIN);
    assert_in_range(it.local_hour, 0, 23);
    assert_in_range(it.local_wday, 0, 6);
    cn_interaction_set_local_time(&it, INT64_MAX);
    assert_in_range(it.local_hour, 0, 23);
    assert_in_range(it.local_wday, 0, 6);
}

/* ---- channel frequency ---- */

static void test_channel_every_two_days(void **state)
{
    reset();
    for (int k = 14; k >= 0; k--)
        add(day_at(2 * k, 10, 0), CN_CHANNEL_EMAIL);
    cn_pattern_t p;
    assert_int_equal(cn_pattern_channel_frequency(hist, n_hist, CN_CHANNEL_EMAIL, &p), 1);
    assert_int_equal(p.type, CN_PATTERN_CHANNEL_FREQUENCY);
    assert_int_equal(p.channel, CN_CHANNEL_EMAIL);
    assert_float_equal(p.confidence, 1.0, 1e-12);
    assert_float_equal(p.frequency, 15, 0);
    assert_string_equal(p.description,
                        "Uses email regularly (15 times in 30 days, about every 2.0 days)");
    assert_string_equal(meta_text(&p, "channel"), "email");
    assert_int_equal(meta_int(&p, "uses"), 15);
    assert_float_equal(meta_real(&p, "mean_gap_days"), 2.0, 1e-9);
    assert_float_equal(meta_real(&p, "per_week"), 3.5, 1e-9);
    assert_float_equal(meta_real(&p, "regularity"), 1.0, 1e-9);

    /* the other channels were never used */
    assert_int_equal(cn_pattern_channel_frequency(hist, n_hist, CN_CHANNEL_CHAT, &p), 0);
    assert_float_equal(p.confidence, 0, 0);
    assert_float_equal(p.frequency, 0, 0);
    assert_string_equal(p.description, "");
}

static void test_channel_jitter_still_regular(void **state)
{
    reset();
    rng_state = 7;
    /* every two days, give or take three hours */
    for (int k = 14; k >= 0; k--)
        add(day_at(2 * k, 10, 0) + (int64_t)((rng_unit() - 0.5) * 6 * HOUR_MS), CN_CHANNEL_WEB);
    cn_pattern_t p;
    assert_int_equal(cn_pattern_channel_frequency(hist, n_hist, CN_CHANNEL_WEB, &p), 1);
    assert_true(p.confidence > 0.9 && p.confidence < 1.0);

    /* one week of silence in the middle breaks the rhythm */
    reset();
    for (int k = 0; k < 12; k++)
        add(day_at(29 - k - (k >= 6 ? 8 : 0), 10, 0), CN_CHANNEL_WEB);
    sort_hist();
    assert_int_equal(cn_pattern_channel_frequency(hist, n_hist, CN_CHANNEL_WEB, &p), 0);
    assert_true(p.confidence < 0.7);
}

static void test_channel_random_use_is_not_regular(void **state)
{
    reset();
    rng_state = 42;
    add_random_times(80, 30);
    int uses[CN_CHANNEL_COUNT] = {0};
    for (size_t i = 0; i < n_hist; i++)
        uses[hist[i].channel]++;
    for (int c = 0; c < CN_CHANNEL_COUNT; c++) {
        cn_pattern_t p;
        assert_true(uses[c] >= 10); /* enough uses: it is the rhythm that is missing */
        assert_int_equal(cn_pattern_channel_frequency(hist, n_hist, c, &p), 0);
        assert_true(p.confidence < 0.5);
        assert_float_equal(p.frequency, uses[c], 0);
    }
}

static void test_channel_needs_ten_uses(void **state)
{
    reset();
    for (int k = 8; k >= 0; k--)
        add(day_at(3 * k, 18, 0), CN_CHANNEL_PHONE);
    cn_pattern_t p;
    assert_int_equal(cn_pattern_channel_frequency(hist, n_hist, CN_CHANNEL_PHONE, &p), 0);
    assert_float_equal(p.confidence, 1.0, 1e-12); /* perfectly regular, but only 9 uses */
    add(day_at(0, 18, 0) + 3 * DAY_MS, CN_CHANNEL_PHONE);
    assert_int_equal(cn_pattern_channel_frequency(hist, n_hist, CN_CHANNEL_PHONE, &p), 1);
}

static void test_channel_burst_is_not_a_habit(void **state)
{
    cn_pattern_t p;
    reset();
    for (int k = 0; k < 30; k++) /* one chat session, a message a minute */
        add(day_at(3, 15, k), CN_CHANNEL_CHAT);
    assert_int_equal(cn_pattern_channel_frequency(hist, n_hist, CN_CHANNEL_CHAT, &p), 0);
    assert_float_equal(p.confidence, 0, 0);

    reset();
    for (int k = 0; k < 30; k++) /* all at the same millisecond: no gap to divide by */
        add(day_at(3, 15, 0), CN_CHANNEL_CHAT);
    assert_int_equal(cn_pattern_channel_frequency(hist, n_hist, CN_CHANNEL_CHAT, &p), 0);
    assert_float_equal(p.confidence, 0, 0);
    assert_float_equal(meta_real(&p, "mean_gap_days"), 0, 0);
    assert_float_equal(meta_real(&p, "per_week"), 0, 0);
}

static void test_channel_ignores_other_channels(void **state)
{
    reset();
    for (int k = 29; k >= 0; k--) {
        add(day_at(k, 9, 0), CN_CHANNEL_MOBILE);
        if (k % 3 == 0)
            add(day_at(k, 9, 30), 17); /* unknown channel: counted nowhere */
    }
    cn_pattern_t p;
    assert_int_equal(cn_pattern_channel_frequency(hist, n_hist, CN_CHANNEL_MOBILE, &p), 1);
    assert_float_equal(p.frequency, 30, 0);
    assert_float_equal(p.confidence, 1.0, 1e-12);
    assert_string_equal(p.description,
                        "Uses mobile regularly (30 times in 30 days, about every 1.0 days)");
    assert_int_equal(cn_pattern_channel_frequency(hist, n_hist, 17, &p), 0);
    assert_int_equal(p.channel, 17);
    assert_int_equal(p.n_meta, 0);
    assert_int_equal(cn_pattern_channel_frequency(NULL, 0, CN_CHANNEL_WEB, &p), 0);
}

/* ---- sentiment trend ---- */

static void test_sentiment_always_positive(void **state)
{
    reset();
    for (int k = 0; k < 8; k++)
        add_scored(day_at(20 - 2 * k, 11, 0), CN_CHANNEL_CHAT, 0.6);
    cn_pattern_t p;
    assert_int_equal(cn_pattern_sentiment_trend(hist, n_hist, &p), 1);
    assert_float_equal(p.confidence, 1.0, 0);
    assert_float_equal(p.frequency, 8, 0);
    assert_string_equal(meta_text(&p, "direction"), "positive");
    assert_string_equal(meta_text(&p, "trend"), "stable");
    assert_float_equal(meta_real(&p, "slope_per_week"), 0, 1e-9);
    assert_float_equal(meta_real(&p, "mean_compound"), 0.6, 1e-9);
    assert_int_equal(meta_int(&p, "analysed"), 8);
    assert_string_equal(p.description,
                        "Consistently positive sentiment (8 of 8 analysed interactions), "
                        "trend stable");
}

static void test_sentiment_mixed_is_no_pattern(void **state)
{
    reset();
    for (int k = 0; k < 10; k++)
        add_scored(day_at(20 - k, 11, 0), CN_CHANNEL_CHAT, k % 2 ? 0.5 : -0.5);
    cn_pattern_t p;
    assert_int_equal(cn_pattern_sentiment_trend(hist, n_hist, &p), 0);
    assert_float_equal(p.confidence, 0.5, 1e-12);
    assert_string_equal(p.description, "");

    /* 7 of 10 is not above 0.7; 8 of 10 is */
    reset();
    for (int k = 0; k < 10; k++)
        add_scored(day_at(20 - k, 11, 0), CN_CHANNEL_CHAT, k < 7 ? -0.5 : 0.0);
    assert_int_equal(cn_pattern_sentiment_trend(hist, n_hist, &p), 0);
    assert_float_equal(p.confidence, 0.7, 1e-12);
    hist[7].compound = -0.2;
    assert_int_equal(cn_pattern_sentiment_trend(hist, n_hist, &p), 1);
    assert_float_equal(p.confidence, 0.8, 1e-12);
    assert_string_equal(meta_text(&p, "direction"), "negative");
}

static void test_sentiment_trend_direction(void **state)
{
    cn_pattern_t p;
    reset();
    for (int k = 0; k <= 20; k++) /* 0.1 rising to 0.9 over 20 days: 0.28 a week */
        add_scored(day_at(20 - k, 11, 0), CN_CHANNEL_EMAIL, 0.1 + 0.04 * k);
    assert_int_equal(cn_pattern_sentiment_trend(hist, n_hist, &p), 1);
    assert_string_equal(meta_text(&p, "direction"), "positive");
    assert_string_equal(meta_text(&p, "trend"), "improving");
    assert_float_equal(meta_real(&p, "slope_per_week"), 0.28, 1e-4);
    assert_string_equal(p.description,
                        "Consistently positive sentiment (21 of 21 analysed interactions), "
                        "trend improving");

    for (size_t i = 0; i < n_hist; i++)
        hist[i].compound = -hist[i].compound;
    assert_int_equal(cn_pattern_sentiment_trend(hist, n_hist, &p), 1);
    assert_string_equal(meta_text(&p, "direction"), "negative");
    assert_string_equal(meta_text(&p, "trend"), "declining");
    assert_float_equal(meta_real(&p, "slope_per_week"), -0.28, 1e-4);
}

static void test_sentiment_labels_and_cutoffs(void **state)
{
    static const double neutral[] = {0.0, 0.0499, -0.0499, 0.01, -0.03, 0.0};
    cn_pattern_t p;
    reset();
    for (int k = 0; k < 6; k++)
        add_scored(day_at(10 - k, 11, 0), CN_CHANNEL_WEB, neutral[k]);
    assert_int_equal(cn_pattern_sentiment_trend(hist, n_hist, &p), 1);
    assert_string_equal(meta_text(&p, "direction"), "neutral");

    for (size_t i = 0; i < n_hist; i++)
        hist[i].compound = i % 2 ? 0.05 : 1.5; /* the cut-off itself; out of range clamps */
    assert_int_equal(cn_pattern_sentiment_trend(hist, n_hist, &p), 1);
    assert_string_equal(meta_text(&p, "direction"), "positive");
    assert_true(meta_real(&p, "mean_compound") <= 1.0);
    for (size_t i = 0; i < n_hist; i++)
        hist[i].compound = -0.05;
    assert_int_equal(cn_pattern_sentiment_trend(hist, n_hist, &p), 1);
    assert_string_equal(meta_text(&p, "direction"), "negative");
}

static void test_sentiment_needs_five_and_ignores_nan(void **state)
{
    cn_pattern_t p;
    reset();
    for (int k = 0; k < 4; k++)
        add_scored(day_at(10 - k, 11, 0), CN_CHANNEL_WEB, 0.7);
    for (int k = 0; k < 6; k++)
        add_scored(day_at(5, 11, k), CN_CHANNEL_WEB, k % 2 ? NAN : INFINITY);
    for (int k = 0; k < 6; k++)
        add(day_at(4, 11, k), CN_CHANNEL_WEB)->compound = -0.9; /* not analysed */
    sort_hist();
    assert_int_equal(cn_pattern_sentiment_trend(hist, n_hist, &p), 0);
    assert_float_equal(p.confidence, 0, 0);
    assert_int_equal(meta_int(&p, "analysed"), 4);

    add_scored(day_at(1, 11, 0), CN_CHANNEL_WEB, 0.7);
    assert_int_equal(cn_pattern_sentiment_trend(hist, n_hist, &p), 1);
    assert_int_equal(meta_int(&p, "analysed"), 5);
    assert_float_equal(p.frequency, 5, 0);
    assert_float_equal(meta_real(&p, "mean_compound"), 0.7, 1e-9);
    assert_true(isfinite(meta_real(&p, "slope_per_week")));
}

static void test_sentiment_same_instant(void **state)
{
    cn_pattern_t p;
    reset();
    for (int k = 0; k < 9; k++)
        add_scored(NOW - HOUR_MS, CN_CHANNEL_WEB, -0.4 - 0.05 * k);
    assert_int_equal(cn_pattern_sentiment_trend(hist, n_hist, &p), 1);
    assert_string_equal(meta_text(&p, "trend"), "stable"); /* no time spread, no slope */
    assert_float_equal(meta_real(&p, "slope_per_week"), 0, 0);
}

/* ---- temporal ---- */

static void add_weekday_mornings(int channel)
{
    for (int k = 28; k >= 1; k--) {
        int wday = ((1 - k) % 7 + 7) % 7;
        if (wday >= 1 && wday <= 5)
            add(day_at(k, 9, (k * 7) % 45), channel);
    }
}

static void test_temporal_weekday_mornings(void **state)
{
    reset();
    add_weekday_mornings(CN_CHANNEL_WEB);
    assert_int_equal(n_hist, 20);
    cn_pattern_t p;
    assert_int_equal(cn_pattern_temporal(hist, n_hist, &p), 1);
    assert_float_equal(p.confidence, 1.0, 0);
    assert_float_equal(p.frequency, 20, 0);
    assert_int_equal(meta_int(&p, "hour_start"), 8);
    assert_int_equal(meta_int(&p, "hour_end"), 11);
    assert_string_equal(meta_text(&p, "days"), "weekdays");
    assert_float_equal(meta_real(&p, "hour_score"), 1.0, 0);
    assert_float_equal(meta_real(&p, "day_score"), 1.0, 0);
    assert_string_equal(p.description,
                        "Usually active between 08:00 and 11:00 on weekdays (20 of 20 "
                        "interactions)");
}

static void test_temporal_saturdays_any_hour(void **state)
{
    static const int hours[] = {2, 11, 19};
    reset();
    for (int k = 28; k >= 0; k--)
        if (((1 - k) % 7 + 7) % 7 == 6)
            for (int h = 0; h < 3; h++)
                add(day_at(k, hours[h], 0), CN_CHANNEL_WEB);
    cn_pattern_t p;
    assert_int_equal(cn_pattern_temporal(hist, n_hist, &p), 1);
    assert_float_equal(p.confidence, 1.0, 0);
    assert_string_equal(meta_text(&p, "days"), "saturday"); /* narrower than "weekend" */
    assert_null(cn_pattern_meta_find(&p, "hour_start"));
    assert_string_equal(p.description, "Usually active on Saturdays (12 of 12 interactions)");
}

static void test_temporal_wraps_midnight(void **state)
{
    static const int hours[] = {23, 0, 1};
    reset();
    for (int k = 0; k < 15; k++) /* late evenings and small hours, every day of the week */
        add(day_at(20 - k, hours[k % 3], 10), CN_CHANNEL_CHAT);
    cn_pattern_t p;
    assert_int_equal(cn_pattern_temporal(hist, n_hist, &p), 1);
    assert_int_equal(meta_int(&p, "hour_start"), 23);
    assert_int_equal(meta_int(&p, "hour_end"), 2);
    assert_null(cn_pattern_meta_find(&p, "days"));
    assert_string_equal(p.description,
                        "Usually active between 23:00 and 02:00 (15 of 15 interactions)");
}

static void test_temporal_mostly_but_not_only(void **state)
{
    /* 18 of 20 in the window: (0.9 - 1/8) / (7/8) = 0.886 */
    reset();
    for (int k = 0; k < 20; k++)
        add(day_at(25 - k, k < 18 ? 14 : 3, 0), CN_CHANNEL_WEB);
    cn_pattern_t p;
    assert_int_equal(cn_pattern_temporal(hist, n_hist, &p), 1);
    assert_float_equal(p.confidence, (0.9 - 0.125) / 0.875, 1e-12);
    assert_float_equal(p.frequency, 18, 0);
    assert_int_equal(meta_int(&p, "hour_start"), 13);
}

static void test_temporal_random_times_is_no_pattern(void **state)
{
    reset();
    rng_state = 1234;
    add_random_times(60, 30);
    cn_pattern_t p;
    assert_int_equal(cn_pattern_temporal(hist, n_hist, &p), 0);
    assert_true(p.confidence < 0.5);
    assert_string_equal(p.description, "");
}

static void test_temporal_one_session_is_no_habit(void **state)
{
    reset();
    for (int k = 0; k < 10; k++)
        add(day_at(2, 15, 5 * k), CN_CHANNEL_CHAT);
    cn_pattern_t p;
    assert_int_equal(cn_pattern_temporal(hist, n_hist, &p), 0);
    assert_float_equal(p.confidence, 0, 0);
}

static void test_temporal_ignores_unknown_clock(void **state)
{
    reset();
    add_weekday_mornings(CN_CHANNEL_WEB);
    size_t good = n_hist;
    for (int k = 0; k < 10; k++) {
        cn_interaction_t *it = add(day_at(20 - k, 20, 0), CN_CHANNEL_WEB);
        if (k % 3 == 0)
            it->local_hour = -1;
        else if (k % 3 == 1)
            it->local_hour = 24;
        else
            it->local_wday = 7;
    }
    sort_hist();
    cn_pattern_t p;
    assert_int_equal(cn_pattern_temporal(hist, n_hist, &p), 1);
    assert_float_equal(p.frequency, (double)good, 0);
    assert_float_equal(p.confidence, 1.0, 0);
}

/* ---- engagement ---- */

static void test_engagement_daily(void **state)
{
    reset();
    for (int k = 29; k >= 0; k--)
        add(day_at(k, 10, 0), CN_CHANNEL_EMAIL);
    cn_pattern_t p;
    assert_int_equal(cn_pattern_engagement(hist, n_hist, NOW, &p), 1);
    /* two hours since the last one: 0.4 * 2^(-1/84) + 0.4 * 1 + 0.2 * 1/3 */
    double expected = 0.4 * exp2(-1.0 / 84) + 0.4 + 0.2 / 3;
    assert_float_equal(p.confidence, expected, 1e-12);
    assert_float_equal(p.frequency, 30, 0);
    assert_string_equal(meta_text(&p, "level"), "high");
    assert_int_equal(meta_int(&p, "active_days"), 30);
    assert_int_equal(meta_int(&p, "channels"), 1);
    assert_float_equal(meta_real(&p, "activity"), 1.0, 0);
    assert_string_equal(p.description, "Highly engaged: active on 30 of the last 30 days on 1 "
                                       "channel, last seen today");

    /* more channels raise the score; many messages on one day do not add days */
    add(day_at(0, 11, 0), CN_CHANNEL_CHAT);
    add(day_at(0, 11, 5), CN_CHANNEL_PHONE);
    assert_int_equal(cn_pattern_engagement(hist, n_hist, NOW, &p), 1);
    assert_true(p.confidence > expected);
    assert_int_equal(meta_int(&p, "active_days"), 30);
    assert_int_equal(meta_int(&p, "channels"), 3);
    assert_float_equal(meta_real(&p, "diversity"), 1.0, 0);
    assert_true(p.confidence <= 1.0);
}

static void test_engagement_dormant(void **state)
{
    reset();
    for (int k = 28; k >= 24; k--)
        add(day_at(k, 10, 0), k % 2 ? CN_CHANNEL_EMAIL : CN_CHANNEL_WEB);
    cn_pattern_t p;
    assert_int_equal(cn_pattern_engagement(hist, n_hist, NOW, &p), 0);
    assert_true(p.confidence >= 0 && p.confidence < 0.3);
    assert_string_equal(meta_text(&p, "level"), "normal");
    assert_float_equal(meta_real(&p, "days_since_last"), 24 + 2.0 / 24, 1e-4);
    assert_string_equal(p.description, "");

    /* a burst today: recent, but one active day is not a habit */
    reset();
    for (int k = 0; k < 40; k++)
        add(day_at(0, 9, k), CN_CHANNEL_CHAT);
    assert_int_equal(cn_pattern_engagement(hist, n_hist, NOW, &p), 0);
    assert_true(p.confidence > 0.4 && p.confidence < 0.7);
    assert_int_equal(meta_int(&p, "active_days"), 1);
}

static void test_engagement_bounds(void **state)
{
    cn_pattern_t p;
    assert_int_equal(cn_pattern_engagement(NULL, 0, NOW, &p), 0);
    assert_float_equal(p.confidence, 0, 0);
    reset();
    add(NOW, CN_CHANNEL_WEB);
    assert_int_equal(cn_pattern_engagement(hist, 0, NOW, &p), 0);
    assert_float_equal(p.confidence, 0, 0);

    /* in the future: recency is capped at 1, not above */
    reset();
    for (int k = 0; k < 10; k++)
        add(NOW + k * DAY_MS, CN_CHANNEL_WEB);
    assert_int_equal(cn_pattern_engagement(hist, n_hist, NOW, &p), 0);
    assert_float_equal(meta_real(&p, "days_since_last"), 0, 0);
    assert_float_equal(meta_real(&p, "recency"), 1.0, 0);
    assert_in_range((int64_t)(p.confidence * 1000), 0, 1000);

    /* more dates than the window holds: activity saturates */
    reset();
    for (int k = 0; k < 90; k++)
        add(NOW - (89 - k) * DAY_MS, k % 5);
    assert_int_equal(cn_pattern_engagement(hist, n_hist, NOW, &p), 1);
    assert_float_equal(p.confidence, 1.0, 1e-12);
    assert_int_equal(meta_int(&p, "active_days"), 30);
}

/* ---- the workflow ---- */

static void check_property6(int n)
{
    assert_in_range(n, 0, CN_PATTERNS_MAX);
    for (int i = 0; i < n; i++) {
        const cn_pattern_t *p = &found[i];
        assert_true(isfinite(p->confidence) && isfinite(p->frequency));
        assert_true(p->confidence >= 0.7 && p->confidence <= 1.0);
        assert_true(p->frequency > 0 && p->frequency == floor(p->frequency));
        assert_non_null(cn_pattern_type_name(p->type));
        assert_int_equal(p->channel >= 0, p->type == CN_PATTERN_CHANNEL_FREQUENCY);
        assert_true(p->description[0] != '\0');
        assert_true(memchr(p->description, '\0', sizeof p->description) != NULL);
        assert_in_range(p->n_meta, 1, CN_PATTERN_META_MAX);
        for (size_t m = 0; m < p->n_meta; m++) {
            assert_non_null(p->meta[m].key);
            if (p->meta[m].kind == CN_META_TEXT)
                assert_non_null(p->meta[m].text);
            assert_true(isfinite(p->meta[m].real));
        }
        if (i > 0) {
            const cn_pattern_t *q = &found[i - 1];
            assert_true(q->confidence >= p->confidence);
            if (q->confidence == p->confidence)
                assert_true(q->type < p->type || (q->type == p->type && q->channel < p->channel));
        }
    }
}

static int detect(int64_t now_ms)
{
    int n = cn_patterns_detect(hist, n_hist, now_ms, found, CN_PATTERNS_MAX);
    check_property6(n);
    return n;
}

static void test_detect_all_four_sorted(void **state)
{
    reset();
    for (int k = 29; k >= 0; k--)
        add_scored(day_at(k, 9, 0), CN_CHANNEL_EMAIL, 0.5);
    int n = detect(NOW);
    assert_int_equal(n, 4);
    /* three at 1.0 in type order, then engagement (0.86) */
    assert_int_equal(found[0].type, CN_PATTERN_CHANNEL_FREQUENCY);
    assert_int_equal(found[0].channel, CN_CHANNEL_EMAIL);
    assert_int_equal(found[1].type, CN_PATTERN_SENTIMENT_TREND);
    assert_int_equal(found[2].type, CN_PATTERN_TEMPORAL);
    assert_int_equal(found[3].type, CN_PATTERN_ENGAGEMENT);
    assert_float_equal(found[0].confidence, 1.0, 0);
    assert_true(found[3].confidence < 1.0);
}

static void test_detect_filters_low_confidence(void **state)
{
    rng_state = 99;
    reset();
    /* chat every day between 08:00 and 13:00; 60 % positive */
    for (int k = 29; k >= 0; k--)
        add_scored(day_at(k, 8 + rng_below(5), 0), CN_CHANNEL_CHAT, k % 5 < 3 ? 0.4 : -0.4);
    cn_pattern_t p;
    assert_int_equal(cn_pattern_sentiment_trend(hist, n_hist, &p), 0);
    assert_float_equal(p.confidence, 0.6, 1e-12);
    assert_int_equal(cn_pattern_temporal(hist, n_hist, &p), 0);
    assert_true(p.confidence > 0.3 && p.confidence < 0.7);

    int n = detect(NOW);
    assert_null(find_type(n, CN_PATTERN_SENTIMENT_TREND, -1));
    assert_null(find_type(n, CN_PATTERN_TEMPORAL, -1));
    assert_non_null(find_type(n, CN_PATTERN_ENGAGEMENT, -1));
    const cn_pattern_t *chat = find_type(n, CN_PATTERN_CHANNEL_FREQUENCY, CN_CHANNEL_CHAT);
    assert_non_null(chat);
    assert_true(chat->confidence < 1.0); /* the hours vary */
    assert_int_equal(n, 2);
    assert_true(found[0].confidence >= found[1].confidence);
}

static void test_detect_several_channels_ordered(void **state)
{
    reset();
    /* web exactly daily, mobile every 2 days give or take an hour */
    for (int k = 29; k >= 0; k--) {
        add(day_at(k, 8, 0), CN_CHANNEL_WEB);
        if (k % 2 == 0)
            add(day_at(k, 20, k % 4 == 0 ? 55 : 0) - (k % 4 == 0 ? HOUR_MS : 0), CN_CHANNEL_MOBILE);
    }
    int n = detect(NOW);
    const cn_pattern_t *web = find_type(n, CN_PATTERN_CHANNEL_FREQUENCY, CN_CHANNEL_WEB);
    const cn_pattern_t *mobile = find_type(n, CN_PATTERN_CHANNEL_FREQUENCY, CN_CHANNEL_MOBILE);
    assert_non_null(web);
    assert_non_null(mobile);
    assert_true(web < mobile); /* 1.0 before the slightly irregular one */
    assert_true(web->confidence > mobile->confidence);
}

static void test_detect_fewer_than_five(void **state)
{
    reset();
    for (int k = 3; k >= 0; k--)
        add_scored(day_at(k, 9, 0), CN_CHANNEL_EMAIL, 0.9);
    assert_int_equal(detect(NOW), 0);
    /* a fifth makes the sentiment detector eligible */
    add_scored(day_at(0, 10, 0), CN_CHANNEL_EMAIL, 0.9);
    int n = detect(NOW);
    assert_non_null(find_type(n, CN_PATTERN_SENTIMENT_TREND, -1));
}

static void test_detect_thirty_day_window(void **state)
{
    reset();
    /* a perfect e-mail rhythm that ended 31 days ago, then 4 recent interactions */
    for (int k = 60; k >= 31; k--)
        add_scored(day_at(k, 9, 0), CN_CHANNEL_EMAIL, 0.8);
    for (int k = 3; k >= 0; k--)
        add(day_at(k, 9, 0), CN_CHANNEL_WEB);
    assert_int_equal(detect(NOW), 0);

    /* the window is (now - 30 days, now] */
    reset();
    add_scored(NOW - CN_PATTERNS_WINDOW_MS, CN_CHANNEL_WEB, 0.8);
    for (int k = 1; k <= 4; k++)
        add_scored(NOW - CN_PATTERNS_WINDOW_MS + k * DAY_MS, CN_CHANNEL_WEB, 0.8);
    add_scored(NOW + 1, CN_CHANNEL_WEB, 0.8);
    assert_int_equal(detect(NOW), 0); /* 4 inside */
    hist[0].at_ms += 1;
    assert_non_null(find_type(detect(NOW), CN_PATTERN_SENTIMENT_TREND, -1));
    hist[0].at_ms -= 1;
    hist[n_hist - 1].at_ms = NOW;
    assert_non_null(find_type(detect(NOW), CN_PATTERN_SENTIMENT_TREND, -1));

    /* old interactions do not feed the detectors */
    reset();
    for (int k = 60; k >= 31; k--)
        add_scored(day_at(k, 9, 0), CN_CHANNEL_EMAIL, -0.8);
    for (int k = 5; k >= 0; k--)
        add_scored(day_at(k, 9 + k, 0), CN_CHANNEL_WEB, 0.8);
    int n = detect(NOW);
    assert_null(find_type(n, CN_PATTERN_CHANNEL_FREQUENCY, CN_CHANNEL_EMAIL));
    const cn_pattern_t *s = find_type(n, CN_PATTERN_SENTIMENT_TREND, -1);
    assert_non_null(s);
    assert_float_equal(s->frequency, 6, 0);
    assert_string_equal(meta_text(s, "direction"), "positive");
}

static void test_detect_cap_and_arguments(void **state)
{
    reset();
    for (int k = 29; k >= 0; k--)
        add_scored(day_at(k, 9, 0), CN_CHANNEL_EMAIL, 0.5);
    cn_pattern_t two[2];
    assert_int_equal(cn_patterns_detect(hist, n_hist, NOW, two, 2), 2);
    assert_int_equal(two[0].type, CN_PATTERN_CHANNEL_FREQUENCY);
    assert_int_equal(two[1].type, CN_PATTERN_SENTIMENT_TREND);
    assert_int_equal(cn_patterns_detect(hist, n_hist, NOW, NULL, 0), 0);
    assert_int_equal(cn_patterns_detect(hist, n_hist, NOW, NULL, 1), -1);
    assert_int_equal(cn_patterns_detect(NULL, 3, NOW, found, CN_PATTERNS_MAX), -1);
    assert_int_equal(cn_patterns_detect(NULL, 0, NOW, found, CN_PATTERNS_MAX), 0);

    int64_t t = hist[3].at_ms; /* out of time order */
    hist[3].at_ms = hist[4].at_ms;
    hist[4].at_ms = t;
    assert_int_equal(cn_patterns_detect(hist, n_hist, NOW, found, CN_PATTERNS_MAX), -1);
}

static void test_detect_degenerate(void **state)
{
    /* twenty interactions at one instant: no rhythm, no habit, a consistent sentiment */
    reset();
    for (int k = 0; k < 20; k++)
        add_scored(NOW - HOUR_MS, k % CN_CHANNEL_COUNT, 0.3);
    int n = detect(NOW);
    assert_int_equal(n, 1);
    assert_int_equal(found[0].type, CN_PATTERN_SENTIMENT_TREND);

    /* all in the future */
    reset();
    for (int k = 1; k <= 20; k++)
        add_scored(NOW + k * DAY_MS, CN_CHANNEL_WEB, 0.3);
    assert_int_equal(detect(NOW), 0);

    /* NaN sentiment only */
    reset();
    for (int k = 29; k >= 0; k--)
        add_scored(day_at(k, rng_below(24), 0), rng_below(CN_CHANNEL_COUNT), NAN);
    assert_null(find_type(detect(NOW), CN_PATTERN_SENTIMENT_TREND, -1));

    /* the ends of time, and a `now` there */
    reset();
    add(INT64_MIN, CN_CHANNEL_PHONE);
    for (int k = 0; k < 10; k++)
        add_scored(INT64_MIN + 1 + k * DAY_MS, CN_CHANNEL_WEB, 0.5);
    for (int k = 9; k >= 0; k--)
        add_scored(INT64_MAX - 1 - k * DAY_MS, CN_CHANNEL_WEB, 0.5);
    add(INT64_MAX, CN_CHANNEL_PHONE);
    assert_int_equal(detect(NOW), 0);
    int lo = detect(INT64_MIN + 5 * DAY_MS);
    assert_non_null(find_type(lo, CN_PATTERN_SENTIMENT_TREND, -1));
    int hi = detect(INT64_MAX);
    assert_non_null(find_type(hi, CN_PATTERN_CHANNEL_FREQUENCY, CN_CHANNEL_WEB));
    assert_int_equal(detect(INT64_MIN), 0);
}

static void test_detect_huge_history(void **state)
{
    static cn_interaction_t big[HUGE_ITEMS];
    int64_t step = CN_PATTERNS_WINDOW_MS / HUGE_ITEMS; /* about 26 s */
    for (int i = 0; i < HUGE_ITEMS; i++) {
        big[i] = (cn_interaction_t){.at_ms = NOW - (HUGE_ITEMS - 1 - i) * step,
                                    .channel = i % CN_CHANNEL_COUNT,
                                    .has_sentiment = i % 3 != 0,
                                    .compound = 0.2 + 0.5 * ((i * 7) % 10) / 10.0};
        cn_interaction_set_local_time(&big[i], big[i].at_ms);
    }
    int n = cn_patterns_detect(big, HUGE_ITEMS, NOW, found, CN_PATTERNS_MAX);
    check_property6(n);
    /* five clockwork channels, positive sentiment, engagement; time of day is flat */
    assert_int_equal(n, 7);
    assert_null(find_type(n, CN_PATTERN_TEMPORAL, -1));
    const cn_pattern_t *web = find_type(n, CN_PATTERN_CHANNEL_FREQUENCY, CN_CHANNEL_WEB);
    assert_non_null(web);
    assert_float_equal(web->frequency, HUGE_ITEMS / CN_CHANNEL_COUNT, 0);
    assert_string_equal(web->description,
                        "Uses web regularly (20000 times in 30 days, about every 2 minutes)");
}

static void test_valid_until(void **state)
{
    assert_int_equal(cn_patterns_valid_until(NOW), NOW + DAY_MS);
    assert_int_equal(cn_patterns_valid_until(INT64_MAX - 5), INT64_MAX);
}

/* ---- Property 6 over random histories ---- */

static int64_t random_time(int shape, int i, int count, double period_days, double jitter)
{
    switch (shape) {
    case 0: /* uniform, some before the window and some in the future */
        return NOW + (int64_t)((rng_unit() * 47 - 45) * DAY_MS);
    case 1: /* a rhythm with jitter */
        return NOW - (int64_t)(((count - i) * period_days + (rng_unit() - 0.5) * jitter) * DAY_MS);
    case 2: /* a burst */ return NOW - 2 * DAY_MS + rng_below(120) * MINUTE_MS;
    default: /* one hour of the day on random days */
        return MIDNIGHT - rng_below(35) * DAY_MS + 9 * HOUR_MS + rng_below(90) * MINUTE_MS;
    }
}

static void random_history(void)
{
    reset();
    int count = rng_below(90), shape = rng_below(4), channel_mode = rng_below(3);
    double period = 0.3 + rng_unit() * 4, jitter = rng_unit() * period, bias = rng_unit() * 2 - 1;
    int64_t offset = (rng_below(27) - 12) * HOUR_MS;
    for (int i = 0; i < count; i++) {
        int64_t at = random_time(shape, i, count, period, jitter);
        int channel = channel_mode == 0   ? CN_CHANNEL_EMAIL
                      : channel_mode == 1 ? rng_below(CN_CHANNEL_COUNT)
                                          : rng_below(CN_CHANNEL_COUNT + 2) - 1;
        cn_interaction_t *it = add(at, channel);
        cn_interaction_set_local_time(it, at + offset);
        if (rng_below(50) == 0)
            it->local_hour = 24 + rng_below(3);
        it->has_sentiment = rng_below(10) < 7;
        int noise = rng_below(40);
        it->compound = noise == 0   ? NAN
                       : noise == 1 ? -INFINITY
                                    : fmax(-1.2, fmin(1.2, bias + (rng_unit() - 0.5) * 0.6));
    }
    sort_hist();
}

static void check_detectors_direct(void)
{
    size_t first = 0, end = n_hist;
    while (first < n_hist && hist[first].at_ms <= NOW - CN_PATTERNS_WINDOW_MS)
        first++;
    while (end > first && hist[end - 1].at_ms > NOW)
        end--;
    cn_pattern_t p[CN_CHANNEL_COUNT + 3];
    int hit[CN_CHANNEL_COUNT + 3];
    for (int c = 0; c < CN_CHANNEL_COUNT; c++)
        hit[c] = cn_pattern_channel_frequency(hist + first, end - first, c, &p[c]);
    hit[5] = cn_pattern_sentiment_trend(hist + first, end - first, &p[5]);
    hit[6] = cn_pattern_temporal(hist + first, end - first, &p[6]);
    hit[7] = cn_pattern_engagement(hist + first, end - first, NOW, &p[7]);
    for (int k = 0; k < CN_CHANNEL_COUNT + 3; k++) {
        assert_true(p[k].confidence >= 0 && p[k].confidence <= 1);
        assert_true(isfinite(p[k].frequency) && p[k].frequency >= 0);
        if (hit[k])
            assert_true(p[k].confidence > 0.7 && p[k].frequency > 0 && p[k].description[0]);
        else
            assert_int_equal(p[k].description[0], '\0');
    }
}

static void test_property6_random_histories(void **state)
{
    int seen[CN_PATTERN_TYPE_COUNT] = {0};
    rng_state = 20261123;
    for (int round = 0; round < 4000; round++) {
        random_history();
        int n = detect(NOW);
        assert_true(n == 0 || n_hist >= CN_PATTERNS_MIN_INTERACTIONS);
        for (int i = 0; i < n; i++) {
            seen[found[i].type]++;
            assert_true(found[i].frequency <= (double)n_hist);
        }
        check_detectors_direct();
    }
    for (int t = 0; t < CN_PATTERN_TYPE_COUNT; t++)
        if (seen[t] < 20)
            fail_msg("pattern type %s found only %d times", cn_pattern_type_name(t), seen[t]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_local_time),
        cmocka_unit_test(test_channel_every_two_days),
        cmocka_unit_test(test_channel_jitter_still_regular),
        cmocka_unit_test(test_channel_random_use_is_not_regular),
        cmocka_unit_test(test_channel_needs_ten_uses),
        cmocka_unit_test(test_channel_burst_is_not_a_habit),
        cmocka_unit_test(test_channel_ignores_other_channels),
        cmocka_unit_test(test_sentiment_always_positive),
        cmocka_unit_test(test_sentiment_mixed_is_no_pattern),
        cmocka_unit_test(test_sentiment_trend_direction),
        cmocka_unit_test(test_sentiment_labels_and_cutoffs),
        cmocka_unit_test(test_sentiment_needs_five_and_ignores_nan),
        cmocka_unit_test(test_sentiment_same_instant),
        cmocka_unit_test(test_temporal_weekday_mornings),
        cmocka_unit_test(test_temporal_saturdays_any_hour),
        cmocka_unit_test(test_temporal_wraps_midnight),
        cmocka_unit_test(test_temporal_mostly_but_not_only),
        cmocka_unit_test(test_temporal_random_times_is_no_pattern),
        cmocka_unit_test(test_temporal_one_session_is_no_habit),
        cmocka_unit_test(test_temporal_ignores_unknown_clock),
        cmocka_unit_test(test_engagement_daily),
        cmocka_unit_test(test_engagement_dormant),
        cmocka_unit_test(test_engagement_bounds),
        cmocka_unit_test(test_detect_all_four_sorted),
        cmocka_unit_test(test_detect_filters_low_confidence),
        cmocka_unit_test(test_detect_several_channels_ordered),
        cmocka_unit_test(test_detect_fewer_than_five),
        cmocka_unit_test(test_detect_thirty_day_window),
        cmocka_unit_test(test_detect_cap_and_arguments),
        cmocka_unit_test(test_detect_degenerate),
        cmocka_unit_test(test_detect_huge_history),
        cmocka_unit_test(test_valid_until),
        cmocka_unit_test(test_property6_random_histories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
