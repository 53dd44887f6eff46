/*
 * Behaviour-pattern detectors of the customer-insights app: pure functions over one
 * customer's interactions that find a regularly used channel, a consistent sentiment, a
 * time-of-day / day-of-week habit and a high engagement level, each with a confidence in
 * [0, 1]. No I/O, no allocation, no clock and no time zone: the caller passes `now` and
 * each interaction's local hour and weekday, so the same history always gives the same
 * patterns.
 */
#ifndef CAIRN_LIB_PATTERNS_H
#define CAIRN_LIB_PATTERNS_H

#include <stddef.h>
#include <stdint.h>

/** Only interactions in (now - 30 days, now] count; later ones (clock skew) are ignored. */
#define CN_PATTERNS_WINDOW_DAYS 30
#define CN_PATTERNS_WINDOW_MS ((int64_t)CN_PATTERNS_WINDOW_DAYS * 86400000)
/** A customer with fewer interactions in the window has no patterns. */
#define CN_PATTERNS_MIN_INTERACTIONS 5
/** Detectors report a pattern above this confidence; the workflow keeps >= it. */
#define CN_PATTERNS_MIN_CONFIDENCE 0.7
/** A habit (channel rhythm, time of day) must be seen over at least this many days. */
#define CN_PATTERNS_MIN_SPAN_DAYS 7
/** A channel needs this many uses in the window before its rhythm is judged. */
#define CN_PATTERNS_MIN_CHANNEL_USES 10
/** Sentiment consistency needs this many analysed interactions. */
#define CN_PATTERNS_MIN_ANALYSED 5
/** Stored patterns go stale after a day: engagement recency moves daily. */
#define CN_PATTERNS_VALID_MS ((int64_t)24 * 3600000)
/** Most patterns one detection can return: one per channel plus the three others. */
#define CN_PATTERNS_MAX 8
#define CN_PATTERN_DESC_MAX 160
#define CN_PATTERN_META_MAX 8

typedef enum {
    CN_CHANNEL_WEB = 0,
    CN_CHANNEL_MOBILE,
    CN_CHANNEL_EMAIL,
    CN_CHANNEL_CHAT,
    CN_CHANNEL_PHONE,
    CN_CHANNEL_COUNT
} cn_interaction_channel_t;

/**
 * One interaction of the customer. Arrays passed to this module are sorted by at_ms
 * ascending (equal times allowed). Fields out of range (channel, hour, weekday) leave the
 * item out of the detectors that need them; so does a non-finite compound.
 */
typedef struct st_cn_interaction_t {
    int64_t at_ms;     /**< Unix milliseconds (UTC) */
    int channel;       /**< cn_interaction_channel_t */
    int local_hour;    /**< 0..23 in the tenant's time zone */
    int local_wday;    /**< 0..6, 0 = Sunday (struct tm), in the tenant's time zone */
    int has_sentiment; /**< compound below is a VADER score of this interaction */
    double compound;   /**< VADER compound in [-1, 1] */
} cn_interaction_t;

typedef enum {
    CN_PATTERN_CHANNEL_FREQUENCY = 0,
    CN_PATTERN_SENTIMENT_TREND,
    CN_PATTERN_TEMPORAL,
    CN_PATTERN_ENGAGEMENT,
    CN_PATTERN_TYPE_COUNT
} cn_pattern_type_t;

typedef enum { CN_META_TEXT = 0, CN_META_INT, CN_META_REAL } cn_pattern_meta_kind_t;

/**
 * One metadata entry for the pattern's JSON object. key and text point to string
 * literals of this module (static storage), never into the caller's data.
 */
typedef struct st_cn_pattern_meta_t {
    const char *key;
    cn_pattern_meta_kind_t kind;
    const char *text; /**< CN_META_TEXT */
    int64_t integer;  /**< CN_META_INT */
    double real;      /**< CN_META_REAL, always finite */
} cn_pattern_meta_t;

/**
 * A detected pattern, self-contained (no pointers into the input). frequency is always a
 * whole number of interactions (the spec's schema has an INTEGER column for it):
 *   channel_frequency  uses of the channel in the window;
 *   sentiment_trend    analysed interactions carrying the dominant label;
 *   temporal           interactions inside the reported hour and/or day window;
 *   engagement         interactions in the window.
 */
typedef struct st_cn_pattern_t {
    cn_pattern_type_t type;
    int channel;       /**< cn_interaction_channel_t for channel_frequency, else -1 */
    double confidence; /**< in [0, 1] */
    double frequency;
    char description[CN_PATTERN_DESC_MAX]; /**< "" when the detector found no pattern */
    size_t n_meta;
    cn_pattern_meta_t meta[CN_PATTERN_META_MAX];
} cn_pattern_t;

/** "web", "mobile", "email", "chat", "phone"; NULL for anything else. */
const char *cn_channel_name(int channel);

/** The cn_interaction_channel_t named by s[0..len) (exact, lowercase), or -1. */
int cn_channel_parse(const char *s, size_t len);

/** "channel_frequency", "sentiment_trend", "temporal", "engagement"; NULL otherwise. */
const char *cn_pattern_type_name(cn_pattern_type_t type);

/** The metadata entry named key, or NULL. */
const cn_pattern_meta_t *cn_pattern_meta_find(const cn_pattern_t *p, const char *key);

/**
 * Fills local_hour and local_wday from a local wall-clock time (milliseconds since
 * 1970-01-01T00:00 local, i.e. UTC time plus the zone's offset at that instant).
 */
void cn_interaction_set_local_time(cn_interaction_t *it, int64_t local_ms);

/*
 * The detectors. Each takes the interactions of the window (sorted) and always fills *out
 * with its measurement: confidence (0 when there is too little data) and metadata. It
 * returns 1 when that is a pattern, with frequency (> 0) and description set; else 0,
 * with the description "".
 */

/**
 * Channel rhythm. The gaps g between consecutive uses of `channel` give
 *   regularity = clamp(1 - sd(g) / mean(g), 0, 1)     (population sd)
 * i.e. one minus the coefficient of variation: scale-free, so a weekly and a daily
 * rhythm are equally regular; exactly periodic use scores 1 and use at random times (a
 * Poisson process, CV = 1) scores about 0. Measured when there are >= 2 gaps, a positive
 * mean gap and the uses span >= CN_PATTERNS_MIN_SPAN_DAYS (a single burst is not a
 * habit), else 0. Pattern: >= CN_PATTERNS_MIN_CHANNEL_USES uses and regularity > 0.7;
 * confidence = regularity. Metadata: channel, uses, mean_gap_days, per_week, regularity.
 */
int cn_pattern_channel_frequency(const cn_interaction_t *items, size_t n, int channel,
                                 cn_pattern_t *out);

/**
 * Sentiment consistency over the analysed interactions (has_sentiment, finite compound).
 * Labels: compound >= 0.05 positive, <= -0.05 negative, else neutral (VADER's cut-offs);
 *   consistency = count(dominant label) / analysed      (ties: positive, negative, neutral)
 * measured from CN_PATTERNS_MIN_ANALYSED analysed interactions on. Pattern: consistency
 * > 0.7; confidence = consistency. The trend is the least-squares slope of compound
 * (clamped to [-1, 1]) against time: "improving" when the fitted change over the analysed
 * span is >= +0.1, "declining" when <= -0.1, else "stable" (also when all times are
 * equal). Metadata: direction, trend, slope_per_week, mean_compound, analysed.
 */
int cn_pattern_sentiment_trend(const cn_interaction_t *items, size_t n, cn_pattern_t *out);

/**
 * Time habit over the interactions with a valid local hour and weekday. For a window
 * covering a share p of the cycle and holding a share s of the interactions,
 *   concentration = clamp((s - p) / (1 - p), 0, 1)
 * (chance-corrected: 0 for a customer active at random times, 1 when all fall inside).
 * Raw shares would not do: a customer active on random days has 5/7 = 0.71 of them on
 * weekdays. Hour windows: the best 3 consecutive hours, wrapping midnight (p = 1/8; ties
 * go to the window whose middle hour is busiest). Day windows: each single weekday
 * (p = 1/7), the weekend (2/7), Monday to Friday (5/7); the best wins, narrower first on
 * ties. confidence = max(hour, day concentration), measured from
 * CN_PATTERNS_MIN_INTERACTIONS items spanning >= CN_PATTERNS_MIN_SPAN_DAYS. Pattern:
 * confidence > 0.7; the description names each window above 0.7. Metadata: hour_start,
 * hour_end (exclusive, 0..23) when the hour window counts, days ("monday".."sunday",
 * "weekend", "weekdays") when the day window counts, hour_score, day_score.
 */
int cn_pattern_temporal(const cn_interaction_t *items, size_t n, cn_pattern_t *out);

/**
 * Engagement score in [0, 1]:
 *   score    = 0.4 recency + 0.4 activity + 0.2 diversity
 *   recency  = 2^(-days since the latest interaction / 7)      (half-life a week; 1 if future)
 *   activity = min(1, active days per week / 5)                 (saturates at a working week)
 *   diversity= min(1, distinct channels / 3)
 * Active days are distinct local dates (weekday change or a gap >= 24 h; at most 30),
 * per week over the 30-day window, so a burst of messages in one afternoon counts once.
 * Sentiment is left out on purpose: an unhappy customer who writes daily is engaged, and
 * sentiment has its own detector. Pattern ("high engagement"): score > 0.7; confidence =
 * score. Metadata: level, days_since_last, active_days, channels, recency, activity,
 * diversity.
 */
int cn_pattern_engagement(const cn_interaction_t *items, size_t n, int64_t now_ms,
                          cn_pattern_t *out);

/**
 * The detection workflow. items: the customer's history, sorted by at_ms (it may hold
 * more than the window). Keeps the items in (now_ms - 30 days, now_ms]; with fewer than
 * CN_PATTERNS_MIN_INTERACTIONS returns 0. Otherwise runs every detector, keeps patterns
 * with 0.7 <= confidence <= 1 and frequency > 0, sorts them by confidence descending
 * (ties: type, then channel) and copies the first `cap` to out (CN_PATTERNS_MAX always
 * suffices). Returns the number written, or -1 when items is NULL with n > 0, out is
 * NULL with cap > 0, or items are not in time order. O(n) time, no allocation.
 */
int cn_patterns_detect(const cn_interaction_t *items, size_t n, int64_t now_ms, cn_pattern_t *out,
                       size_t cap);

/** The valid_until to store with patterns detected at detected_at_ms: one day later. */
int64_t cn_patterns_valid_until(int64_t detected_at_ms);

#endif
