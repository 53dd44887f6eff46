/*
 * libFuzzer target: the streaming CSV reader (untrusted uploads) and its writer. The first
 * two bytes pick the limits and the chunk sizes. The same input parsed whole and in chunks
 * must give identical records; every record must respect the limits and hold valid UTF-8;
 * and the good records, written back out with the writer, must parse to the same fields.
 */
#include "lib/csv.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    cn_csv_limits_t lim;
    cn_csv_buf_t log;     /* every record serialised, to compare parses */
    cn_csv_buf_t fields;  /* the fields of good records only */
    cn_csv_buf_t rewrite; /* good records written back as CSV */
    uint64_t last_no, last_offset, last_line;
    size_t input_len;
} run_t;

static void check(int ok)
{
    if (!ok)
        abort();
}

static void log_bytes(cn_csv_buf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n)
            cap *= 2;
        b->data = realloc(b->data, cap);
        check(b->data != NULL);
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void log_u64(cn_csv_buf_t *b, uint64_t v)
{
    log_bytes(b, &v, sizeof v);
}

/* Independent of the reader's validator: decodes and checks each code point. */
static int utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], len = c < 0x80       ? 1
                                 : c >> 5 == 6  ? 2
                                 : c >> 4 == 14 ? 3
                                 : c >> 3 == 30 ? 4
                                                : 0;
        if (len == 0 || i + len > n)
            return 0;
        unsigned cp = len == 1 ? c : c & (0x7f >> len);
        for (unsigned k = 1; k < len; k++) {
            if (s[i + k] >> 6 != 2)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const unsigned min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0)
            return 0;
        i += len;
    }
    return 1;
}

static void check_fields(const run_t *run, const cn_csv_record_t *rec)
{
    check(rec->n >= 1 && rec->n <= run->lim.max_fields && rec->error_field == 0);
    size_t total = 0;
    for (size_t i = 0; i < rec->n; i++) {
        check(rec->lens[i] <= run->lim.max_field_bytes && rec->fields[i][rec->lens[i]] == '\0');
        check(utf8_ok((const unsigned char *)rec->fields[i], rec->lens[i]));
        total += rec->lens[i];
    }
    check(total <= run->lim.max_record_bytes);
}

static int on_record(const cn_csv_record_t *rec, void *ud)
{
    run_t *run = ud;
    check(rec->record_no == run->last_no + 1);
    check(rec->record_no == 1 || rec->offset > run->last_offset);
    check(rec->offset < run->input_len && rec->line >= run->last_line);
    run->last_no = rec->record_no;
    run->last_offset = rec->offset;
    run->last_line = rec->line;
    log_u64(&run->log, rec->record_no);
    log_u64(&run->log, rec->line);
    log_u64(&run->log, rec->offset);
    log_u64(&run->log, rec->error_field);
    log_bytes(&run->log, &rec->error, sizeof rec->error); /* messages are static strings */
    if (rec->error != NULL) {
        check(rec->n == 0 && rec->fields == NULL && rec->error_field >= 1);
        return 0;
    }
    check_fields(run, rec);
    log_u64(&run->fields, rec->n);
    for (size_t i = 0; i < rec->n; i++) {
        log_u64(&run->fields, rec->lens[i]);
        log_bytes(&run->fields, rec->fields[i], rec->lens[i]);
        check(cn_csv_write_field(&run->rewrite, rec->fields[i], rec->lens[i], 0) == 0);
    }
    check(cn_csv_end_record(&run->rewrite) == 0);
    return 0;
}

/* Feeds in chunks of 1..64 bytes drawn from seed, or whole when seed is 0. */
static void parse(run_t *run, const uint8_t *data, size_t size, unsigned seed)
{
    cn_csv_reader_t *r = cn_csv_reader_new(&run->lim, on_record, run);
    check(r != NULL);
    run->input_len = size;
    int in_one_piece = seed == 0;
    for (size_t off = 0; off < size;) {
        seed = seed * 1103515245u + 12345u;
        size_t len = in_one_piece ? size : 1 + (seed >> 16) % 64;
        if (len > size - off)
            len = size - off;
        check(cn_csv_feed(r, (const char *)data + off, len) == 0);
        off += len;
    }
    check(cn_csv_finish(r) == 0);
    cn_csv_reader_free(r);
}

static void run_free(run_t *run)
{
    cn_csv_buf_free(&run->log);
    cn_csv_buf_free(&run->fields);
    cn_csv_buf_free(&run->rewrite);
}

static int same(const cn_csv_buf_t *a, const cn_csv_buf_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const cn_csv_limits_t small = {
        .max_field_bytes = 8, .max_fields = 4, .max_record_bytes = 20};
    cn_csv_limits_t lim = {CN_CSV_MAX_FIELD_BYTES, CN_CSV_MAX_FIELDS, CN_CSV_MAX_RECORD_BYTES};
    if (data[0] & 1)
        lim = small;
    unsigned seed = (unsigned)data[0] << 8 | data[1];
    data += 2;
    size -= 2;

    run_t whole = {.lim = lim}, chunked = {.lim = lim}, again = {.lim = lim};
    parse(&whole, data, size, 0);
    parse(&chunked, data, size, seed | 1);
    check(same(&whole.log, &chunked.log) && same(&whole.fields, &chunked.fields));
    check(same(&whole.rewrite, &chunked.rewrite));

    parse(&again, (const uint8_t *)whole.rewrite.data, whole.rewrite.len, seed + 1);
    check(same(&again.fields, &whole.fields) && same(&again.rewrite, &whole.rewrite));
    run_free(&whole);
    run_free(&chunked);
    run_free(&again);
    return 0;
}
