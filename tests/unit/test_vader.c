/*
 * Unit tests for VADER sentiment (src/lib/vader.h). Every expected value was produced by the
 * reference, the npm package vader-sentiment 1.1.3 (polarity_scores); byte strings that are
 * not UTF-8 were given to it as Buffer.from(bytes).toString('utf8'). The parity test scores
 * the corpus of tests/vader/make_corpus.mjs, generated with node at test time: it fails when
 * node or the script cannot be run. The repository is found through $CAIRN_SOURCE_DIR,
 * else ".." (ctest runs in <repo>/build*).
 */
#include "lib/vader.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    const char *rule;
    const char *text;
    size_t len;
    cn_vader_scores_t want;
} case_t;

static cn_vader_scores_t score_n(const char *text, size_t len)
{
    cn_vader_scores_t s;
    assert_int_equal(cn_vader_score(text, len, &s), 0);
    return s;
}

static cn_vader_scores_t score(const char *text)
{
    return score_n(text, strlen(text));
}

static double max_diff(const cn_vader_scores_t *a, const cn_vader_scores_t *b)
{
    double d = fabs(a->neg - b->neg);
    d = fmax(d, fabs(a->neu - b->neu));
    d = fmax(d, fabs(a->pos - b->pos));
    return fmax(d, fabs(a->compound - b->compound));
}

static void check_cases(const case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cn_vader_scores_t got = score_n(cases[i].text, cases[i].len);
        if (max_diff(&got, &cases[i].want) > 1e-12)
            fail_msg("%s: got {%g, %g, %g, %g}, want {%g, %g, %g, %g}", cases[i].rule, got.neg,
                     got.neu, got.pos, got.compound, cases[i].want.neg, cases[i].want.neu,
                     cases[i].want.pos, cases[i].want.compound);
    }
}

#define CASE(rule, text, ...)                                                                      \
    {                                                                                              \
        rule, text, sizeof(text) - 1,                                                              \
        {                                                                                          \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }

/* ---- one rule at a time ---- */

static void test_reference_demo(void **state)
{
    /* the reference's own test suite (SentimentIntensityAnalyzer_tests.js) */
    static const case_t cases[] = {
        CASE("demo 1", "VADER is smart, handsome, and funny.", 0, 0.254, 0.746, 0.8316),
        CASE("demo 2", "VADER is not smart, handsome, nor funny.", 0.646, 0.354, 0, -0.7424),
        CASE("demo 3", "VADER is smart, handsome, and funny!", 0, 0.248, 0.752, 0.8439),
        CASE("demo 4", "VADER is very smart, handsome, and funny.", 0, 0.299, 0.701, 0.8545),
        CASE("demo 5", "VADER is VERY SMART, handsome, and FUNNY.", 0, 0.246, 0.754, 0.9227),
        CASE("demo 6", "VADER is VERY SMART, handsome, and FUNNY!!!", 0, 0.233, 0.767, 0.9342),
        CASE("demo 7", "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!", 0, 0.294, 0.706,
             0.9469),
        CASE("demo 8",
             "The plot was good, but the characters are uncompelling and the dialog "
             "is not great.",
             0.327, 0.579, 0.094, -0.7042),
        CASE("demo 9", "At least it isn't a horrible book.", 0, 0.637, 0.363, 0.431),
        CASE("demo 10", "Today SUX!", 0.779, 0.221, 0, -0.5461),
        CASE("demo 11", "Today only kinda sux! But I'll get by, lol", 0.179, 0.569, 0.251, 0.2228),
    };
    check_cases(cases, N_OF(cases));
}

static void test_lexicon_and_boosters(void **state)
{
    static const case_t cases[] = {
        CASE("lexicon word", "The book was good.", 0, 0.508, 0.492, 0.4404),
        CASE("booster", "The book was very good.", 0, 0.556, 0.444, 0.4927),
        CASE("dampener", "The book was slightly good.", 0, 0.605, 0.395, 0.3832),
        CASE("booster two back (x0.95)", "The book was very much good.", 0, 0.611, 0.389, 0.4902),
        CASE("booster three back (x0.9)", "very much so good", 0, 0.424, 0.576, 0.6213),
        CASE("booster right before the word", "fucking great", 0, 0.185, 0.815, 0.659),
        CASE("a repeated lexicon entry keeps its last valence", "lol", 0, 0, 1, 0.4215),
        CASE("emoticons", "Make sure you :) or :D today!", 0, 0.294, 0.706, 0.8633),
        CASE(":D is looked up as :d", ":D", 0, 0, 1, 0.5106),
        CASE("neutral words only", "the table is in the room", 0, 1, 0, 0),
    };
    check_cases(cases, N_OF(cases));
}

static void test_all_caps(void **state)
{
    static const case_t cases[] = {
        CASE("lexicon lookups are lower-cased", "The book was GOOD.", 0, 0.452, 0.548, 0.5622),
        CASE("ALL CAPS emphasis", "The book was GOOD and fine.", 0, 0.424, 0.576, 0.6633),
        CASE("all words in caps: no emphasis", "THE BOOK WAS GOOD.", 0, 0.508, 0.492, 0.4404),
        CASE("ALL CAPS booster", "The book was VERY good.", 0, 0.505, 0.495, 0.6028),
    };
    check_cases(cases, N_OF(cases));
}

static void test_negation(void **state)
{
    static const case_t cases[] = {
        CASE("negation", "The book was not good.", 0.376, 0.624, 0, -0.3412),
        CASE("negation two back", "The book was not that good.", 0.325, 0.675, 0, -0.3412),
        CASE("negation three back", "not the book good", 0.445, 0.555, 0, -0.3412),
        CASE("n't contraction", "The book isn't good.", 0.445, 0.555, 0, -0.3412),
        CASE("n't anywhere in the word", "couldn't've good", 0.706, 0.294, 0, -0.3412),
        CASE("negations are case-sensitive", "The book was NOT good.", 0, 0.58, 0.42, 0.4404),
        CASE("no is a lexicon word, not a negation", "no good", 0.431, 0, 0.569, 0.1779),
        CASE("never so", "I am never so happy.", 0, 0.312, 0.688, 0.823),
        CASE("never this", "I am never this happy.", 0, 0.331, 0.669, 0.7942),
        CASE("never so, three back", "never so very happy", 0, 0.371, 0.629, 0.726),
        CASE("so right before: x1.25 even without never", "x y so happy", 0, 0.2, 0.8, 0.6115),
        CASE("without doubt: doubt is in the lexicon", "It was without doubt good.", 0.32, 0.399,
             0.281, -0.0762),
    };
    check_cases(cases, N_OF(cases));
}

static void test_but_kind_of_least_idioms(void **state)
{
    static const case_t cases[] = {
        CASE("but shifts the weight", "The food was good, but the service was bad.", 0.347, 0.511,
             0.142, -0.5859),
        CASE("BUT in capitals", "The food was good BUT the service was bad.", 0.347, 0.511, 0.142,
             -0.5859),
        CASE("But capitalised is ignored", "The food was good. But the service was bad.", 0.261,
             0.522, 0.216, -0.1531),
        CASE("negative and positive", "I love it but I hate the price", 0.433, 0.343, 0.223,
             -0.5346),
        CASE("kind of", "The book was kind of good.", 0, 0.657, 0.343, 0.3832),
        CASE("KIND OF", "The book was KIND OF good.", 0, 0.633, 0.367, 0.4404),
        CASE("sort of (bigram in idioms_check)", "the book sort of good", 0, 0.605, 0.395, 0.3832),
        CASE("least", "the least good book", 0.445, 0.555, 0, -0.3412),
        CASE("at least", "at least good", 0, 0.408, 0.592, 0.4404),
        CASE("very least", "the very least good", 0, 0.486, 0.514, 0.4902),
        CASE("least as the first word", "least good", 0.706, 0.294, 0, -0.3412),
        CASE("idiom the shit", "this is the shit", 0, 0.429, 0.571, 0.6124),
        CASE("idiom after the word", "a b c yeah right", 0, 0.313, 0.688, 0.296),
        CASE("idiom cut the mustard", "it does not cut the mustard", 0, 0.625, 0.375, 0.4588),
    };
    check_cases(cases, N_OF(cases));
}

static void test_punctuation(void **state)
{
    static const case_t cases[] = {
        CASE("exclamation marks", "good!!", 0, 0, 1, 0.5399),
        CASE("exclamation marks count up to 4", "good! ! ! ! ! !", 0, 0, 1, 0.6209),
        CASE("question marks", "good?? really", 0, 0.235, 0.765, 0.504),
        CASE("four or more question marks", "good ? ? ? ?", 0, 0, 1, 0.594),
        CASE("one question mark: nothing", "is it good?", 0, 0.408, 0.592, 0.4404),
        CASE("'...' is not in PUNC_LIST: the word stays unknown", "good...", 0, 1, 0, 0),
        CASE("nor is '!!!!'", "good!!!!", 0, 1, 0, 0),
        CASE("punctuation on both sides stays", "(good)", 0, 1, 0, 0),
        CASE("single characters are not words", "a b c d e f good", 0, 0, 1, 0.4404),
    };
    check_cases(cases, N_OF(cases));
}

static void test_unicode(void **state)
{
    static const case_t cases[] = {
        CASE("an emoji is two UTF-16 units: a word", "\xf0\x9f\x98\x80 good", 0, 0.256, 0.744,
             0.4404),
        CASE("an accented letter alone is not a word", "\xc3\xa9 good", 0, 0, 1, 0.4404),
        CASE("no-break space separates",
             "good\xc2\xa0"
             "bad",
             0.547, 0, 0.453, -0.1531),
        CASE("ideographic space separates",
             "good\xe3\x80\x80"
             "bad",
             0.547, 0, 0.453, -0.1531),
        CASE("zero-width space does not",
             "good\xe2\x80\x8b"
             "bad",
             0, 1, 0, 0),
        CASE("NEL does not",
             "good\xc2\x85"
             "bad",
             0, 1, 0, 0),
        CASE("KELVIN SIGN lower-cases to k", "\xe2\x84\xaaind of good", 0, 0.408, 0.592, 0.4404),
        CASE("KELVIN SIGN in a lexicon word", "\xe2\x84\xaaiss me", 0, 0.263, 0.737, 0.4215),
        CASE("dotted capital I does not lower-case to i",
             "\xc4\xb0"
             "DIOT",
             0, 1, 0, 0),
        CASE("NUL inside a word", "good\0bad nice", 0, 0.263, 0.737, 0.4215),
    };
    check_cases(cases, N_OF(cases));
}

static void test_invalid_utf8(void **state)
{
    /* Node turns each ill-formed sequence into one U+FFFD per maximal valid prefix */
    static const case_t cases[] = {
        CASE("lone continuation byte", "\x80 good", 0, 0, 1, 0.4404),
        CASE("truncated 3-byte sequence", "\xe2\x82 good", 0, 0, 1, 0.4404),
        CASE("truncated sequence is one character, not a word", "good \xe2\x82", 0, 0, 1, 0.4404),
        CASE("surrogate encoded in UTF-8 is three", "\xed\xa0\x80 bad", 0.778, 0.222, 0, -0.5423),
        CASE("bytes FF and FE", "\xff \xfe\xfe nice", 0, 0.263, 0.737, 0.4215),
        CASE("overlong slash", "\xc0\xaf good!", 0, 0.239, 0.761, 0.4926),
    };
    check_cases(cases, N_OF(cases));

    /* every byte value, every truncation: must not crash, values in range */
    unsigned char bytes[512];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (unsigned char)(i * 7 + (i >> 8));
    for (size_t len = 0; len <= sizeof bytes; len += 13) {
        cn_vader_scores_t s = score_n((const char *)bytes, len);
        assert_true(s.compound >= -1 && s.compound <= 1);
        assert_true(s.neg >= 0 && s.neu >= 0 && s.pos >= 0);
    }
}

static void test_empty_and_wordless(void **state)
{
    static const char *const wordless[] = {"", " ", "a", "\xc3\xa9", "!", "\t\n\r\v\f ", "a b c"};
    for (size_t i = 0; i < N_OF(wordless); i++) {
        cn_vader_scores_t s = score(wordless[i]);
        assert_true(s.neg == 0 && s.neu == 0 && s.pos == 0 && s.compound == 0);
        assert_true(cn_vader_confidence(&s) == 0);
    }
    cn_vader_scores_t s;
    assert_int_equal(cn_vader_score(NULL, 0, &s), 0);
    assert_true(s.neu == 0);
    /* "!!" is a word (two characters), neutral: */
    s = score("!!");
    assert_true(s.neg == 0 && s.neu == 1 && s.pos == 0 && s.compound == 0);
}

static void test_rounding_ties(void **state)
{
    /* jj has valence 1.0: pos = 2/32 = 0.0625 and neu = 30/32 = 0.9375 exactly. JavaScript's
     * toFixed rounds those ties up (printf would give 0.062); the shares then sum to 1.001. */
    char text[128] = "jj";
    for (int i = 0; i < 30; i++)
        strcat(text, " xx");
    cn_vader_scores_t s = score(text);
    assert_true(s.neg == 0 && s.neu == 0.938 && s.pos == 0.063 && s.compound == 0.25);
}

static void test_long_text(void **state)
{
    char *text = malloc(10001);
    assert_non_null(text);
    for (int i = 0; i < 2000; i++)
        memcpy(text + 5 * i, "good ", 5);
    cn_vader_scores_t s = score_n(text, 10000);
    assert_true(s.neg == 0 && s.neu == 0 && s.pos == 1 && s.compound == 1);

    static const char sentence[] = "The food was not very good but the staff were LOVELY!! ";
    size_t n = sizeof sentence - 1;
    for (size_t i = 0; i < 180; i++)
        memcpy(text + n * i, sentence, n);
    s = score_n(text, 180 * n); /* 9 900 characters */
    assert_true(s.neg == 0.183 && s.neu == 0.48 && s.pos == 0.337 && s.compound == 1);
    free(text);

    /* 4 MiB of words: linear time, no allocation to fail */
    size_t big = 4u << 20;
    text = malloc(big);
    assert_non_null(text);
    for (size_t i = 0; i < big; i++)
        text[i] = "bad good not :) x  "[i % 19];
    clock_t t0 = clock();
    s = score_n(text, big);
    assert_true(s.compound >= -1 && s.compound <= 1);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5);
    free(text);
}

static void test_label_confidence(void **state)
{
    assert_string_equal(cn_vader_label(0.05), "positive");
    assert_string_equal(cn_vader_label(0.0499), "neutral");
    assert_string_equal(cn_vader_label(0), "neutral");
    assert_string_equal(cn_vader_label(-0.0499), "neutral");
    assert_string_equal(cn_vader_label(-0.05), "negative");
    assert_string_equal(cn_vader_label(1), "positive");

    cn_vader_scores_t s = score("I love it but I hate the price");
    assert_true(cn_vader_confidence(&s) == 0.433);
    /* the reference's own numbers: 0.433 + 0.343 + 0.223 = 0.999, left as they are */
    assert_true(s.neg == 0.433 && s.neu == 0.343 && s.pos == 0.223 && s.compound == -0.5346);

    s = score("good");
    assert_true(s.pos == 1 && s.neu == 0 && s.neg == 0 && cn_vader_confidence(&s) == 1);
}

/* ---- concurrency: one-time init and scoring from many threads ---- */

#define N_THREADS 8

static void *score_many(void *arg)
{
    cn_vader_scores_t *out = arg;
    for (int i = 0; i < 2000; i++)
        if (cn_vader_score("The food was good, but the service was bad.", 43, out) != 0)
            return out;
    return NULL;
}

static void test_threads(void **state)
{
    pthread_t threads[N_THREADS];
    cn_vader_scores_t got[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, score_many, &got[i]), 0);
    for (int i = 0; i < N_THREADS; i++) {
        void *failed;
        assert_int_equal(pthread_join(threads[i], &failed), 0);
        assert_null(failed);
        assert_true(got[i].neg == 0.347 && got[i].neu == 0.511 && got[i].pos == 0.142 &&
                    got[i].compound == -0.5859);
    }
}

/* ---- parity with the reference on a generated corpus ---- */

/* Undoes make_corpus.mjs's escapes (\\ \t \n \r \0) in place; returns the new length. */
static size_t unescape(char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\' || i + 1 == len) {
            s[o++] = s[i];
            continue;
        }
        char c = s[++i];
        s[o++] = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == '0' ? '\0' : c;
    }
    return o;
}

/* Splits "text\tneg\tneu\tpos\tcompound" (text has no raw tab). Returns 0 or -1. */
static int parse_line(char *line, size_t len, size_t *text_len, cn_vader_scores_t *want)
{
    char *tab = memchr(line, '\t', len);
    if (tab == NULL)
        return -1;
    *tab = '\0';
    *text_len = unescape(line, (size_t)(tab - line));
    char *p = tab + 1, *end;
    double *fields[] = {&want->neg, &want->neu, &want->pos, &want->compound};
    for (size_t i = 0; i < N_OF(fields); i++) {
        *fields[i] = strtod(p, &end);
        if (end == p || (*end != (i + 1 < N_OF(fields) ? '\t' : '\n') && *end != '\0'))
            return -1;
        p = end + 1;
    }
    return 0;
}

static FILE *generate_corpus(char *path, size_t path_size)
{
    const char *src = getenv("CAIRN_SOURCE_DIR");
    const char *tmp = getenv("TMPDIR");
    char command[4096];
    snprintf(path, path_size, "%s/cairn-vader-corpus-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        fail_msg("mkstemp %s failed", path);
    close(fd);
    snprintf(command, sizeof command, "node '%s/tests/vader/make_corpus.mjs' '%s'",
             src && *src ? src : "..", path);
    int rc = system(command);
    if (rc != 0) {
        unlink(path);
        fail_msg("`%s` exited with %d: node and the repository (set CAIRN_SOURCE_DIR) are "
                 "needed for the parity test",
                 command, rc);
    }
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    return f;
}

static void test_parity_corpus(void **state)
{
    char path[1024];
    FILE *f = generate_corpus(path, sizeof path);
    char *line = NULL;
    size_t cap = 0, n_lines = 0, n_inexact = 0, n_bad = 0;
    double worst = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        size_t text_len = 0;
        cn_vader_scores_t want, got;
        n_lines++;
        if (parse_line(line, (size_t)len, &text_len, &want) != 0)
            fail_msg("corpus line %zu is malformed", n_lines);
        assert_int_equal(cn_vader_score(line, text_len, &got), 0);
        double d = max_diff(&got, &want);
        worst = fmax(worst, d);
        n_inexact += d != 0;
        if (d > 1e-4 && n_bad++ < 10)
            print_error("line %zu: got {%g, %g, %g, %g}, want {%g, %g, %g, %g}: %.*s\n", n_lines,
                        got.neg, got.neu, got.pos, got.compound, want.neg, want.neu, want.pos,
                        want.compound, (int)text_len, line);
    }
    free(line);
    fclose(f);
    unlink(path);
    print_message("vader parity: %zu texts, max |C - JS| = %g, %zu not bit-identical\n", n_lines,
                  worst, n_inexact);
    assert_true(n_lines >= 2500);
    assert_int_equal(n_bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads), /* first, so the threads race the one-time init */
        cmocka_unit_test(test_reference_demo),
        cmocka_unit_test(test_lexicon_and_boosters),
        cmocka_unit_test(test_all_caps),
        cmocka_unit_test(test_negation),
        cmocka_unit_test(test_but_kind_of_least_idioms),
        cmocka_unit_test(test_punctuation),
        cmocka_unit_test(test_unicode),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_empty_and_wordless),
        cmocka_unit_test(test_rounding_ties),
        cmocka_unit_test(test_long_text),
        cmocka_unit_test(test_label_confidence),
        cmocka_unit_test(test_parity_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
