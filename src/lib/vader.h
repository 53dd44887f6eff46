/*
 * VADER sentiment scoring (Hutto & Gilbert, ICWSM 2014), bit-for-bit with the npm package
 * vader-sentiment 1.1.3 (its SentimentIntensityAnalyzer.polarity_scores), quirks included.
 * Pure library: no I/O, no allocation while scoring, nothing from the rest of Cairn. The
 * lexicon is parsed once into a read-only table; after that every call is lock-free and
 * safe from any number of threads.
 */
#ifndef CAIRN_LIB_VADER_H
#define CAIRN_LIB_VADER_H

#include <stddef.h>

/**
 * The four numbers polarity_scores returns: neg, neu and pos are shares of the text in
 * [0, 1] rounded to 3 decimals, compound is the normalised sum in [-1, 1] rounded to 4
 * decimals (rounded exactly as JavaScript's toFixed: half away from zero on the binary
 * value).
 *
 * Like the reference, each share is rounded on its own, so the three sum to 1 within
 * +/- 0.0015 (0.999, 1 and 1.001 are all common), and a text without any word (nothing of
 * two or more characters between white space) scores all zeros. The API publishes these
 * numbers as they are: a client comparing with the reference must get the same values.
 */
typedef struct {
    double neg, neu, pos, compound;
} cn_vader_scores_t;

/**
 * Builds the lexicon table from the embedded vader_lexicon.txt. Idempotent and thread-safe
 * (pthread_once); call it at start-up so the first request does not pay for it (a
 * millisecond or two). Returns 0, or -1 when the table cannot be built (out of memory, malformed
 * lexicon); later calls return the same answer.
 */
int cn_vader_init(void);

/**
 * Scores text[0..len) (UTF-8; invalid sequences count as U+FFFD, NULs are ordinary
 * characters; text may be NULL when len is 0) into *out with the reference's exact values.
 * Initialises the lexicon on first use. Returns 0, or -1 (and all zeros in *out) when the lexicon
 * could not be built.
 */
int cn_vader_score(const char *text, size_t len, cn_vader_scores_t *out);

/** "positive" for compound >= 0.05, "negative" for compound <= -0.05, else "neutral". */
const char *cn_vader_label(double compound);

/**
 * Confidence of the label: max(neg, neu, pos), the share of the text in the dominant class.
 * A plain proportion, not a calibrated probability; 0 for the all-zero score of a text
 * without words.
 */
double cn_vader_confidence(const cn_vader_scores_t *s);

#endif
