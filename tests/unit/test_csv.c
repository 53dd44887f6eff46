/*
 * Unit tests for the streaming CSV reader and writer (src/lib/csv.h). Every parse is run
 * whole, byte by byte and in a few odd chunk sizes, and must give the same records each
 * time. The .c is included to check that a huge record never grows the buffer past its
 * bound.
 */
#include "lib/csv.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers: records rendered as text, "<record_no>@<line> [field][field]" per line ---- */

typedef struct {
    cn_csv_buf_t text; /* the rendering; reuses the writer's buffer as a plain byte buffer */
    int stop_at;       /* record number at which the callback returns 7; 0 = never */
} dump_t;

static void dump_str(cn_csv_buf_t *b, const char *s, size_t n)
{
    assert_int_equal(out_reserve(b, n + 1), 0);
    out_bytes(b, s, n);
    b->data[b->len] = '\0';
}

static int dump_record(const cn_csv_record_t *rec, void *ud)
{
    dump_t *d = ud;
    char head[96];
    int n = snprintf(head, sizeof head, "%llu@%llu", (unsigned long long)rec->record_no,
                     (unsigned long long)rec->line);
    dump_str(&d->text, head, (size_t)n);
    if (rec->error != NULL) {
        assert_int_equal(rec->n, 0);
        assert_null(rec->fields);
        n = snprintf(head, sizeof head, " !%s#%zu", rec->error, rec->error_field);
        dump_str(&d->text, head, (size_t)n);
    }
    for (size_t i = 0; i < rec->n; i++) {
        assert_int_equal(rec->fields[i][rec->lens[i]], '\0');
        dump_str(&d->text, " [", 2);
        dump_str(&d->text, rec->fields[i], rec->lens[i]);
        dump_str(&d->text, "]", 1);
    }
    dump_str(&d->text, "\n", 1);
    return rec->record_no == (uint64_t)d->stop_at ? 7 : 0;
}

/* Parses in chunks of `chunk` bytes (0: whole) and returns the rendering (caller frees). */
static char *parse_chunked(const char *in, size_t len, size_t chunk, const cn_csv_limits_t *lim)
{
    dump_t d = {0};
    dump_str(&d.text, "", 0);
    cn_csv_reader_t *r = cn_csv_reader_new(lim, dump_record, &d);
    assert_non_null(r);
    size_t step = chunk ? chunk : len;
    for (size_t off = 0; off < len; off += step)
        assert_int_equal(cn_csv_feed(r, in + off, len - off < step ? len - off : step), 0);
    assert_int_equal(cn_csv_finish(r), 0);
    cn_csv_reader_free(r);
    return d.text.data;
}

static void expect_parse_n(const char *in, size_t len, const cn_csv_limits_t *lim, const char *want)
{
    static const size_t chunks[] = {0, 1, 2, 3, 5, 7, 64};
    for (size_t i = 0; i < N_OF(chunks); i++) {
        char *got = parse_chunked(in, len, chunks[i], lim);
        if (strcmp(got, want) != 0)
            fail_msg("chunk %zu of %s\ngot:\n%s\nwant:\n%s", chunks[i], in, got, want);
        free(got);
    }
}

static void expect_parse(const char *in, const char *want)
{
    expect_parse_n(in, strlen(in), NULL, want);
}

/* ---- reader: RFC 4180 basics ---- */

static void test_simple_records(void **state)
{
    expect_parse("a,b,c\n1,2,3\n", "1@1 [a] [b] [c]\n2@2 [1] [2] [3]\n");
    expect_parse("a,b\r\n1,2\r\n", "1@1 [a] [b]\n2@2 [1] [2]\n");
    expect_parse("a,b\n1,2", "1@1 [a] [b]\n2@2 [1] [2]\n"); /* no final newline */
    expect_parse("", "");
    expect_parse("x", "1@1 [x]\n");
}

static void test_quoting(void **state)
{
    expect_parse("\"a,b\",c\n", "1@1 [a,b] [c]\n");
    expect_parse("\"say \"\"hi\"\"\",x\n", "1@1 [say \"hi\"] [x]\n");
    expect_parse("\"\"\"\"\n", "1@1 [\"]\n");
    expect_parse("\"line1\nline2\",z\nnext\n", "1@1 [line1\nline2] [z]\n2@3 [next]\n");
    expect_parse("\"cr\r\nlf\",z\r\nnext\r\n", "1@1 [cr\r\nlf] [z]\n2@3 [next]\n");
    expect_parse("\"a\rb\"\nnext", "1@1 [a\rb]\n2@3 [next]\n");
    expect_parse("\"\",\"\"\n", "1@1 [] []\n");
    expect_parse("\"\"\n", "1@1 []\n");
    expect_parse("\"x\"", "1@1 [x]\n");
}

static void test_empty_fields(void **state)
{
    expect_parse(",\n", "1@1 [] []\n");
    expect_parse("a,\n", "1@1 [a] []\n"); /* a trailing comma is an empty last field */
    expect_parse("a,", "1@1 [a] []\n");
    expect_parse(",,a,,\n", "1@1 [] [] [a] [] []\n");
    expect_parse(" , x \n", "1@1 [ ] [ x ]\n"); /* spaces are data */
}

static void test_blank_lines_skipped(void **state)
{
    expect_parse("\n\na\n\n\nb\n\n", "1@3 [a]\n2@6 [b]\n");
    expect_parse("\r\n\r\na\r\n\r\nb", "1@3 [a]\n2@5 [b]\n");
    expect_parse("\n", "");
}

static void test_line_endings(void **state)
{
    /* LF, CRLF and a lone CR all end a record; a mix is fine */
    expect_parse("a\rb\r\nc\nd\r", "1@1 [a]\n2@2 [b]\n3@3 [c]\n4@4 [d]\n");
    expect_parse("a\r\r\nb", "1@1 [a]\n2@3 [b]\n"); /* CR, then a blank CRLF line */
    expect_parse("a\n\rb", "1@1 [a]\n2@3 [b]\n");
    expect_parse("\"x\"\r\ny", "1@1 [x]\n2@2 [y]\n");
}

static void test_bom(void **state)
{
    expect_parse("\xEF\xBB\xBF"
                 "a,b\n",
                 "1@1 [a] [b]\n");
    expect_parse("\xEF\xBB\xBF", "");
    expect_parse("\xEF\xBB\xBF\xEF\xBB\xBF"
                 "a",
                 "1@1 [\xEF\xBB\xBF"
                 "a]\n"); /* only the first is a BOM */
    expect_parse("\xEF\xBB"
                 "a\n",
                 "1@1 !invalid UTF-8#1\n"); /* a broken BOM is data */
    expect_parse("\xEF", "1@1 !invalid UTF-8#1\n");
    expect_parse("\xC3\xA9t\xC3\xA9\n", "1@1 [\xC3\xA9t\xC3\xA9]\n");
}

/* ---- reader: errors ---- */

static void test_malformed_row_in_middle(void **state)
{
    expect_parse("h1,h2\nok,1\nbad \"x\" here,2\nok,3\n",
                 "1@1 [h1] [h2]\n2@2 [ok] [1]\n3@3 !quote inside an unquoted field#1\n"
                 "4@4 [ok] [3]\n");
    expect_parse("a,\"b\"c,d\ne\n", "1@1 !text after a closing quote#2\n2@2 [e]\n");
    /* the bad record still respects quotes: the newline inside them is not a boundary */
    expect_parse("x\"y,\"multi\nline\"\nnext\n",
                 "1@1 !quote inside an unquoted field#1\n2@3 [next]\n");
    expect_parse("\"a\"b\"c\nok\n", "1@1 !text after a closing quote#1\n2@2 [ok]\n");
    expect_parse_n("a\0b,c\nok\n", 9, NULL, "1@1 !NUL byte (is the file UTF-16?)#1\n2@2 [ok]\n");
    expect_parse_n("\"a\0b\"\nok\n", 9, NULL, "1@1 !NUL byte (is the file UTF-16?)#1\n2@2 [ok]\n");
}

static void test_unterminated_quote(void **state)
{
    expect_parse("a,b\n\"open,c\nd,e\nf\n",
                 "1@1 [a] [b]\n2@2 !quoted field not closed before the end of input#1\n");
    expect_parse("\"", "1@1 !quoted field not closed before the end of input#1\n");
    expect_parse("x,\"ab\"\"", "1@1 !quoted field not closed before the end of input#2\n");
    /* the root cause wins over what it caused */
    expect_parse("\xff,\"never closed", "1@1 !quoted field not closed before the end of input#2\n");
}

static void test_invalid_utf8(void **state)
{
    static const struct {
        const char *field, *error;
    } bad[] = {
        {"\x80", err_utf8},             /* lone continuation byte */
        {"\xC0\x80", err_utf8},         /* overlong NUL */
        {"\xC1\xBF", err_utf8},         /* overlong */
        {"\xE0\x80\xAF", err_utf8},     /* overlong '/' */
        {"\xED\xA0\x80", err_utf8},     /* surrogate U+D800 */
        {"\xF4\x90\x80\x80", err_utf8}, /* past U+10FFFF */
        {"\xF5\x80\x80\x80", err_utf8}, /* invalid lead */
        {"\xFF", err_utf8},
        {"\xE2\x82", err_utf8},     /* truncated at the end of the field */
        {"\xE2\x82,x", err_utf8},   /* truncated by a separator */
        {"\xC3\"", err_quote},      /* the stray quote is found first */
        {"\"\xC3\"\"\"", err_utf8}, /* "" cannot finish a sequence */
    };
    char in[64], want[128];
    for (size_t i = 0; i < N_OF(bad); i++) {
        snprintf(in, sizeof in, "ok\n%s\nok\n", bad[i].field);
        snprintf(want, sizeof want, "1@1 [ok]\n2@2 !%s#1\n3@3 [ok]\n", bad[i].error);
        expect_parse(in, want);
    }
    expect_parse("\xF0\x9D\x84\x9E,\xE2\x82\xAC,\xEF\xBF\xBF,\xF4\x8F\xBF\xBF\n",
                 "1@1 [\xF0\x9D\x84\x9E] [\xE2\x82\xAC] [\xEF\xBF\xBF] [\xF4\x8F\xBF\xBF]\n");
}

static void test_limits(void **state)
{
    cn_csv_limits_t lim = {.max_field_bytes = 4, .max_fields = 3, .max_record_bytes = 10};
    const char *in = "abcd,\"ab\"\"d\"\n"
                     "abcde,x\n"
                     "\"ab\nc\"\"de\"\n"
                     "a,b,c\n"
                     "a,b,c,\n"
                     "abcd,abcd,abc\n"
                     "abcd,abcd,ab\n"
                     "ok\n";
    expect_parse_n(in, strlen(in), &lim,
                   "1@1 [abcd] [ab\"d]\n"
                   "2@2 !field too long#1\n"
                   "3@3 !field too long#1\n"
                   "4@5 [a] [b] [c]\n"
                   "5@6 !too many fields#4\n"
                   "6@7 !record too long#3\n"
                   "7@8 [abcd] [abcd] [ab]\n"
                   "8@9 [ok]\n");
}

/* Regression (fuzz): the error named was the limit or the UTF-8 one depending on chunking. */
static void test_first_error_in_byte_order(void **state)
{
    cn_csv_limits_t lim = {.max_field_bytes = 4, .max_record_bytes = 6};
    const char *in = "a\xFF"
                     "bcdef\n"
                     "abcde\xFF\n"
                     "abc,ab\xFF"
                     "cd\n"
                     "abc,abc\xFF\n";
    expect_parse_n(in, strlen(in), &lim,
                   "1@1 !invalid UTF-8#1\n2@2 !field too long#1\n3@3 !invalid UTF-8#2\n"
                   "4@4 !record too long#2\n");
}

static void test_default_limits(void **state)
{
    size_t max = CN_CSV_MAX_FIELD_BYTES;
    char *in = malloc(max + 8), *want = malloc(max + 32);
    memset(in, 'x', max + 1);
    memcpy(in + max + 1, "\nok\n", 4);
    expect_parse_n(in, max + 5, NULL, "1@1 !field too long#1\n2@2 [ok]\n");
    memcpy(in + max, "\nok\n", 4); /* exactly at the limit */
    memcpy(want, "1@1 [", 5);
    memset(want + 5, 'x', max);
    strcpy(want + 5 + max, "]\n2@2 [ok]\n");
    expect_parse_n(in, max + 4, NULL, want);
    free(in);
    free(want);

    char fields[2 * CN_CSV_MAX_FIELDS + 8];
    memset(fields, ',', sizeof fields);
    strcpy(fields + CN_CSV_MAX_FIELDS - 1, "\n");
    char *got = parse_chunked(fields, strlen(fields), 0, NULL);
    assert_int_equal(strlen(got), strlen("1@1\n") + 3 * CN_CSV_MAX_FIELDS);
    free(got);
    memset(fields, ',', sizeof fields);
    strcpy(fields + CN_CSV_MAX_FIELDS, "\n");
    expect_parse(fields, "1@1 !too many fields#257\n");
}

/* One huge record must not be buffered: the buffer stays within the record bound. */
static void test_memory_bounded(void **state)
{
    cn_csv_limits_t lim = {.max_field_bytes = 1 << 20, .max_record_bytes = 1 << 20};
    dump_t d = {0};
    cn_csv_reader_t *r = cn_csv_reader_new(&lim, dump_record, &d);
    char chunk[4096];
    memset(chunk, 'y', sizeof chunk);
    assert_int_equal(cn_csv_feed(r, "\"", 1), 0);
    for (int i = 0; i < 4096; i++) /* 16 MiB inside one quoted field */
        assert_int_equal(cn_csv_feed(r, chunk, sizeof chunk), 0);
    assert_true(r->buf_cap <= lim.max_record_bytes + CN_CSV_MAX_FIELDS + 1);
    assert_int_equal(cn_csv_feed(r, "\",z\nok\n", 7), 0);
    assert_int_equal(cn_csv_finish(r), 0);
    assert_string_equal(d.text.data, "1@1 !field too long#1\n2@2 [ok]\n");
    cn_csv_reader_free(r);
    cn_csv_buf_free(&d.text);
}

typedef struct {
    uint64_t offset[4], line[4];
    size_t n;
} positions_t;

static int collect_position(const cn_csv_record_t *rec, void *ud)
{
    positions_t *pos = ud;
    assert_true(pos->n < N_OF(pos->offset));
    pos->offset[pos->n] = rec->offset;
    pos->line[pos->n++] = rec->line;
    return 0;
}

static void test_offsets(void **state)
{
    static const char in[] = "\xEF\xBB\xBF"
                             "a\r\n\nbb,\"c\nc\"\r\nd";
    static const uint64_t want_offset[] = {3, 7, 17}, want_line[] = {1, 3, 5};
    size_t len = sizeof in - 1;
    for (size_t chunk = 1; chunk <= len; chunk++) {
        positions_t pos = {0};
        cn_csv_reader_t *r = cn_csv_reader_new(NULL, collect_position, &pos);
        for (size_t off = 0; off < len; off += chunk)
            assert_int_equal(cn_csv_feed(r, in + off, len - off < chunk ? len - off : chunk), 0);
        assert_int_equal(cn_csv_finish(r), 0);
        cn_csv_reader_free(r);
        assert_int_equal(pos.n, 3);
        for (size_t i = 0; i < 3; i++) {
            assert_int_equal(pos.offset[i], want_offset[i]);
            assert_int_equal(pos.line[i], want_line[i]);
        }
    }
}

static void test_callback_stops(void **state)
{
    dump_t d = {.stop_at = 2};
    cn_csv_reader_t *r = cn_csv_reader_new(NULL, dump_record, &d);
    assert_int_equal(cn_csv_feed(r, "a\nb\nc\n", 6), 7);
    assert_int_equal(cn_csv_feed(r, "d\n", 2), 7);
    assert_int_equal(cn_csv_finish(r), 7);
    assert_string_equal(d.text.data, "1@1 [a]\n2@2 [b]\n");
    cn_csv_reader_free(r);
    cn_csv_buf_free(&d.text);
}

/* ---- writer ---- */

static void write_record(cn_csv_buf_t *b, const char *const *fields, size_t n, unsigned flags)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(cn_csv_write_field(b, fields[i], strlen(fields[i]), flags), 0);
    assert_int_equal(cn_csv_end_record(b), 0);
}

static void expect_written(const char *const *fields, size_t n, unsigned flags, const char *want)
{
    cn_csv_buf_t b = {0};
    write_record(&b, fields, n, flags);
    if (b.len != strlen(want) || (b.len > 0 && memcmp(b.data, want, b.len) != 0))
        fail_msg("got %.*s want %s", (int)b.len, b.data, want);
    cn_csv_buf_free(&b);
}

static void test_writer_quoting(void **state)
{
    expect_written((const char *[]){"a", "b"}, 2, 0, "a,b\r\n");
    expect_written((const char *[]){"a,b", "say \"hi\"", "x\ny", "c\rd"}, 4, 0,
                   "\"a,b\",\"say \"\"hi\"\"\",\"x\ny\",\"c\rd\"\r\n");
    expect_written((const char *[]){" lead", "trail ", "\tt", "mid dle"}, 4, 0,
                   "\" lead\",\"trail \",\"\tt\",mid dle\r\n");
    expect_written((const char *[]){"", "", ""}, 3, 0, ",,\r\n");
    expect_written((const char *[]){""}, 1, 0, "\"\"\r\n"); /* not a blank line */
    expect_written((const char *[]){"\"\""}, 1, 0, "\"\"\"\"\"\"\r\n");
    expect_written((const char *[]){"\xEF\xBB\xBFx"}, 1, 0, "\"\xEF\xBB\xBFx\"\r\n");
    expect_written((const char *[]){NULL}, 0, 0, ""); /* no fields, no record */
}

static void test_writer_formula_guard(void **state)
{
    expect_written((const char *[]){"=1+1", "+x", "-x", "@SUM(A1)", "\tx", "\rx"}, 6, CN_CSV_TEXT,
                   "\"'=1+1\",\"'+x\",\"'-x\",\"'@SUM(A1)\",\"'\tx\",\"'\rx\"\r\n");
    expect_written((const char *[]){"=HYPERLINK(\"http://x\")"}, 1, CN_CSV_TEXT,
                   "\"'=HYPERLINK(\"\"http://x\"\")\"\r\n");
    expect_written((const char *[]){"a=b", " =x", ""}, 3, CN_CSV_TEXT, "a=b,\" =x\",\r\n");
    /* numbers are not free text: left alone */
    expect_written((const char *[]){"-0.5", "+3", "=x"}, 3, 0, "-0.5,+3,=x\r\n");
}

static void test_writer_bom_and_drain(void **state)
{
    cn_csv_buf_t b = {0};
    assert_int_equal(cn_csv_write_bom(&b), 0);
    assert_int_equal(cn_csv_write_field(&b, "a", 1, 0), 0);
    b.len = 0; /* the caller consumed the output mid-record */
    assert_int_equal(cn_csv_write_field(&b, "", 0, 0), 0);
    assert_int_equal(cn_csv_end_record(&b), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, ",\r\n", 3);
    cn_csv_buf_free(&b);
    assert_null(b.data);
}

/* ---- property: writer output parses back to the same records in any chunking ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t random_field(char *out, size_t cap)
{
    /* clang-format off */
    static const char *const atoms[] = {
        "a", "Z", "0", " ", ",", "\"", "\r", "\n", "\r\n", "\t", "=", "-", "'", "\xC3\xA9",
        "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xEF\xBB\xBF", "ab", "xyz",
    };
    /* clang-format on */
    size_t n_atoms = rng() % 4 == 0 ? 0 : rng() % 12, len = 0;
    for (size_t i = 0; i < n_atoms; i++) {
        const char *a = atoms[rng() % N_OF(atoms)];
        size_t alen = strlen(a);
        if (len + alen >= cap)
            break;
        memcpy(out + len, a, alen);
        len += alen;
    }
    return len;
}

typedef struct {
    char **fields; /* all fields of all records, flattened */
    size_t *lens;
    size_t *rec_first, *rec_n;  /* per record: first index into fields, field count */
    uint64_t *rec_offset;       /* per record: where the writer started it */
    size_t n_records, next_rec; /* next_rec: records seen by the callback */
    const char *out;            /* the written CSV, to recount lines */
} corpus_t;

static uint64_t lines_before(const char *s, uint64_t off)
{
    uint64_t line = 1;
    for (uint64_t i = 0; i < off; i++)
        if (s[i] == '\n' ? i == 0 || s[i - 1] != '\r' : s[i] == '\r')
            line++;
    return line;
}

static int check_record(const cn_csv_record_t *rec, void *ud)
{
    corpus_t *c = ud;
    size_t k = c->next_rec++;
    assert_true(k < c->n_records);
    assert_null(rec->error);
    assert_int_equal(rec->record_no, k + 1);
    assert_int_equal(rec->offset, c->rec_offset[k]);
    assert_int_equal(rec->line, lines_before(c->out, rec->offset));
    assert_int_equal(rec->n, c->rec_n[k]);
    for (size_t i = 0; i < rec->n; i++) {
        size_t f = c->rec_first[k] + i;
        assert_int_equal(rec->lens[i], c->lens[f]);
        assert_memory_equal(rec->fields[i], c->fields[f], c->lens[f]);
    }
    return 0;
}

static void test_roundtrip_property(void **state)
{
    enum { N_RECORDS = 600, MAX_FIELDS = 6, N_ROUNDS = 30 };
    rng_state = 20261122;
    corpus_t c = {0};
    c.fields = calloc(N_RECORDS * MAX_FIELDS, sizeof *c.fields);
    c.lens = calloc(N_RECORDS * MAX_FIELDS, sizeof *c.lens);
    c.rec_first = calloc(N_RECORDS, sizeof *c.rec_first);
    c.rec_n = calloc(N_RECORDS, sizeof *c.rec_n);
    c.rec_offset = calloc(N_RECORDS, sizeof *c.rec_offset);
    c.n_records = N_RECORDS;
    cn_csv_buf_t b = {0};
    cn_csv_write_bom(&b);
    size_t n_fields = 0;
    for (size_t k = 0; k < N_RECORDS; k++) {
        c.rec_first[k] = n_fields;
        c.rec_n[k] = 1 + rng() % MAX_FIELDS;
        c.rec_offset[k] = b.len;
        for (size_t i = 0; i < c.rec_n[k]; i++, n_fields++) {
            char field[64];
            c.lens[n_fields] = random_field(field, sizeof field);
            c.fields[n_fields] = malloc(c.lens[n_fields] + 1);
            memcpy(c.fields[n_fields], field, c.lens[n_fields]);
            assert_int_equal(cn_csv_write_field(&b, field, c.lens[n_fields], 0), 0);
        }
        assert_int_equal(cn_csv_end_record(&b), 0);
    }
    c.out = b.data;
    for (int round = 0; round < N_ROUNDS; round++) {
        size_t max_chunk = round == 0 ? b.len : round == 1 ? 1 : 1 + rng() % 300;
        cn_csv_reader_t *r = cn_csv_reader_new(NULL, check_record, &c);
        c.next_rec = 0;
        for (size_t off = 0; off < b.len;) {
            size_t len = 1 + rng() % max_chunk;
            if (round < 2)
                len = max_chunk;
            if (len > b.len - off)
                len = b.len - off;
            assert_int_equal(cn_csv_feed(r, b.data + off, len), 0);
            off += len;
        }
        assert_int_equal(cn_csv_finish(r), 0);
        assert_int_equal(c.next_rec, N_RECORDS);
        cn_csv_reader_free(r);
    }
    for (size_t i = 0; i < n_fields; i++)
        free(c.fields[i]);
    free(c.fields);
    free(c.lens);
    free(c.rec_first);
    free(c.rec_n);
    free(c.rec_offset);
    cn_csv_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_records),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_empty_fields),
        cmocka_unit_test(test_blank_lines_skipped),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_malformed_row_in_middle),
        cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_first_error_in_byte_order),
        cmocka_unit_test(test_default_limits),
        cmocka_unit_test(test_memory_bounded),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_writer_quoting),
        cmocka_unit_test(test_writer_formula_guard),
        cmocka_unit_test(test_writer_bom_and_drain),
        cmocka_unit_test(test_roundtrip_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
