/*
 * bench-vader: single-thread throughput of cn_vader_score. Reads the texts of a corpus made
 * by tests/vader/make_corpus.mjs (first TSV column, escapes undone), then scores all of them
 * again and again until --rounds passes or --seconds elapse, whichever comes first, and
 * prints "texts/s: N" (and the sum of the first pass's compounds, to compare). Built by
 * bench/vader.sh, not by CMake.
 *
 *   bench-vader CORPUS.tsv [--rounds 50] [--seconds 5]
 */
#include "lib/vader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *text;
    size_t len;
} text_t;

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The text column of one corpus line, unescaped in place (\\ \t \n \r \0). */
static size_t text_of(char *line, size_t len)
{
    char *tab = memchr(line, '\t', len);
    size_t n = tab ? (size_t)(tab - line) : len, o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = line[i];
        if (c == '\\' && i + 1 < n) {
            c = line[++i];
            c = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == '0' ? '\0' : c;
        }
        line[o++] = c;
    }
    return o;
}

static text_t *read_corpus(const char *path, size_t *n_texts, size_t *n_bytes)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    text_t *texts = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    *n_bytes = 0;
    while ((len = getline(&line, &line_cap, f)) > 0) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            text_t *grown = realloc(texts, cap * sizeof *texts);
            if (grown == NULL)
                break;
            texts = grown;
        }
        texts[n].len = text_of(line, (size_t)len);
        texts[n].text = line; /* the buffer now belongs to texts[n] */
        *n_bytes += texts[n].len;
        n++;
        line = NULL;
        line_cap = 0;
    }
    free(line);
    fclose(f);
    *n_texts = n;
    return texts;
}

int main(int argc, char **argv)
{
    long max_rounds = 50;
    double max_seconds = 5;
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS.tsv [--rounds N] [--seconds S]\n", argv[0]);
        return 2;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--rounds") == 0)
            max_rounds = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            max_seconds = atof(argv[i + 1]);
    }
    size_t n_texts, n_bytes;
    text_t *texts = read_corpus(argv[1], &n_texts, &n_bytes);
    if (texts == NULL || n_texts == 0 || cn_vader_init() != 0) {
        fprintf(stderr, "cannot read %s or build the lexicon\n", argv[1]);
        return 1;
    }
    /* untimed first pass: the checksum bench/vader.sh compares with node's */
    double checksum = 0;
    for (size_t i = 0; i < n_texts; i++) {
        cn_vader_scores_t s;
        cn_vader_score(texts[i].text, texts[i].len, &s);
        checksum += s.compound;
    }
    double start = seconds(CLOCK_MONOTONIC), cpu_start = seconds(CLOCK_THREAD_CPUTIME_ID);
    double elapsed = 0, scored = 0;
    for (long round = 0; round < max_rounds && elapsed < max_seconds; round++) {
        for (size_t i = 0; i < n_texts && elapsed < max_seconds; i++) {
            cn_vader_scores_t s;
            cn_vader_score(texts[i].text, texts[i].len, &s);
            scored++;
            if (i % 1024 == 0)
                elapsed = seconds(CLOCK_MONOTONIC) - start;
        }
    }
    elapsed = seconds(CLOCK_MONOTONIC) - start;
    double cpu = seconds(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
    printf("texts: %zu (%.1f bytes on average), scored: %.0f, seconds: %.3f (cpu %.3f)\n", n_texts,
           (double)n_bytes / (double)n_texts, scored, elapsed, cpu);
    printf("checksum: %.4f\n", checksum);
    printf("texts/s: %.0f\n", elapsed > 0 ? scored / elapsed : 0);
    printf("texts/cpu-s: %.0f\n", cpu > 0 ? scored / cpu : 0);
    for (size_t i = 0; i < n_texts; i++)
        free(texts[i].text);
    free(texts);
    return 0;
}
