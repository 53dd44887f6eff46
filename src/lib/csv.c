/*
 * Streaming CSV reader and writer (see csv.h). The reader is a byte-exact state machine, so
 * how the input is chunked never changes the result; runs of field data are found with a
 * byte-class table and copied in one piece. It must never hold more than one record.
 */
#include "lib/csv.h"

#include <stdlib.h>
#include <string.h>

typedef unsigned char uchar;

enum csv_state {
    ST_RECORD_START, /* between records, where blank lines are skipped */
    ST_AFTER_CR,     /* a CR broke the line: an LF right after it belongs to the same break */
    ST_FIELD_START,
    ST_UNQUOTED,
    ST_QUOTED,
    ST_QUOTE_IN_QUOTED, /* a quote inside quotes: the first of "" or the closing one */
};

/* Which bytes end a run of field data, per state. */
enum { END_UNQUOTED = 1, END_QUOTED = 2 };

static const uchar byte_class[256] = {
    [0] = END_UNQUOTED | END_QUOTED,    [','] = END_UNQUOTED,
    ['"'] = END_UNQUOTED | END_QUOTED,  ['\r'] = END_UNQUOTED | END_QUOTED,
    ['\n'] = END_UNQUOTED | END_QUOTED,
};

static const uchar utf8_bom[3] = {0xEF, 0xBB, 0xBF};

static const char err_quote[] = "quote inside an unquoted field";
static const char err_after_quote[] = "text after a closing quote";
static const char err_unterminated[] = "quoted field not closed before the end of input";
static const char err_field_long[] = "field too long";
static const char err_fields[] = "too many fields";
static const char err_record_long[] = "record too long";
static const char err_utf8[] = "invalid UTF-8";
static const char err_nul[] = "NUL byte (is the file UTF-16?)";

struct st_cn_csv_reader_t {
    cn_csv_limits_t lim;
    cn_csv_record_fn fn;
    void *ud;
    enum csv_state state;
    int stop_rc; /* once non-zero (callback stop or out of memory) the reader is done */
    /* input position */
    const uchar *chunk; /* the chunk being parsed; positions are relative to it */
    uint64_t offset;    /* stream offset of chunk[0] */
    uint64_t line;
    int chunk_ended_cr; /* the previous chunk's last byte was a CR */
    uint8_t bom_matched, bom_done;
    /* UTF-8 validation of the field in progress; survives chunk boundaries */
    uint8_t u8_need, u8_lo, u8_hi;
    /* the record in progress */
    uint64_t record_no, rec_line, rec_offset;
    const char *error; /* first problem found in the record; its data is then dropped */
    size_t error_field;
    size_t fields_seen; /* fields ended so far, counted even after an error */
    char *buf;          /* owned: field data, each field NUL-terminated */
    size_t buf_len, buf_cap, field_start, rec_bytes;
    size_t *starts, *lens; /* owned: per stored field, offset in buf and length */
    const char **ptrs;     /* owned: filled from starts just before the callback */
    size_t n_fields, fields_cap;
};

/* ---- UTF-8 validation ---- */

static const uchar *skip_ascii(const uchar *s, const uchar *end)
{
    while (end - s >= 8) {
        uint64_t w;
        memcpy(&w, s, sizeof w);
        if (w & 0x8080808080808080ull)
            break;
        s += 8;
    }
    while (s < end && *s < 0x80)
        s++;
    return s;
}

/* Sets the count and range of continuation bytes for lead byte c (RFC 3629 table), rejecting
 * overlong forms, surrogates and code points past U+10FFFF. */
static int utf8_lead(cn_csv_reader_t *r, uchar c)
{
    r->u8_lo = 0x80;
    r->u8_hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        r->u8_need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        r->u8_need = 2;
        r->u8_lo = c == 0xE0 ? 0xA0 : 0x80;
        r->u8_hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        r->u8_need = 3;
        r->u8_lo = c == 0xF0 ? 0x90 : 0x80;
        r->u8_hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return -1;
    }
    return 0;
}

static int utf8_valid(cn_csv_reader_t *r, const uchar *s, size_t n)
{
    const uchar *end = s + n;
    while (s < end) {
        if (r->u8_need == 0) {
            s = skip_ascii(s, end);
            if (s < end && utf8_lead(r, *s++) != 0)
                return 0;
        } else {
            if (*s < r->u8_lo || *s > r->u8_hi)
                return 0;
            r->u8_lo = 0x80;
            r->u8_hi = 0xBF;
            r->u8_need--;
            s++;
        }
    }
    return 1;
}

/* ---- record buffer ---- */

static void set_error(cn_csv_reader_t *r, const char *msg)
{
    if (r->error == NULL) {
        r->error = msg;
        r->error_field = r->fields_seen + 1;
    }
}

/* Grows buf for extra more bytes. The limits bound buf_len + extra, so capping the capacity
 * at that bound keeps one huge record from doubling past it. */
static int buf_grow(cn_csv_reader_t *r, size_t extra)
{
    size_t need = r->buf_len + extra;
    size_t cap = r->buf_cap ? r->buf_cap : 256;
    while (cap < need)
        cap *= 2;
    size_t bound = r->lim.max_record_bytes + r->lim.max_fields + 1;
    if (cap > bound)
        cap = bound > need ? bound : need;
    char *p = realloc(r->buf, cap);
    if (p == NULL)
        return -1;
    r->buf = p;
    r->buf_cap = cap;
    return 0;
}

static inline int buf_reserve(cn_csv_reader_t *r, size_t extra)
{
    return extra <= r->buf_cap - r->buf_len ? 0 : buf_grow(r, extra);
}

static int fields_grow(cn_csv_reader_t *r)
{
    size_t cap = r->fields_cap * 2;
    if (cap > r->lim.max_fields)
        cap = r->lim.max_fields;
    size_t *starts = realloc(r->starts, cap * sizeof *starts);
    if (starts == NULL)
        return -1;
    r->starts = starts;
    size_t *lens = realloc(r->lens, cap * sizeof *lens);
    if (lens == NULL)
        return -1;
    r->lens = lens;
    const char **ptrs = realloc(r->ptrs, cap * sizeof *ptrs);
    if (ptrs == NULL)
        return -1;
    r->ptrs = ptrs;
    r->fields_cap = cap;
    return 0;
}

/* The first problem in byte order is reported, whatever the chunking: so only the bytes that
 * fit within the limits are validated before a limit error is raised. */
static int field_append(cn_csv_reader_t *r, const uchar *s, size_t n)
{
    if (n == 0 || r->error != NULL)
        return 0;
    size_t field_room = r->lim.max_field_bytes - (r->buf_len - r->field_start);
    size_t record_room = r->lim.max_record_bytes - r->rec_bytes;
    size_t room = field_room < record_room ? field_room : record_room;
    if (!utf8_valid(r, s, n < room ? n : room))
        set_error(r, err_utf8);
    else if (n > room)
        set_error(r, field_room <= record_room ? err_field_long : err_record_long);
    if (r->error != NULL)
        return 0;
    if (buf_reserve(r, n + 1) != 0) /* + 1: room for the field's NUL */
        return -1;
    memcpy(r->buf + r->buf_len, s, n);
    r->buf_len += n;
    r->rec_bytes += n;
    return 0;
}

static int field_end(cn_csv_reader_t *r)
{
    if (r->u8_need != 0) /* the field ended inside a multi-byte sequence */
        set_error(r, err_utf8);
    if (r->n_fields == r->lim.max_fields)
        set_error(r, err_fields);
    r->fields_seen++;
    r->u8_need = 0;
    if (r->error != NULL)
        return 0;
    if (r->n_fields == r->fields_cap && fields_grow(r) != 0)
        return -1;
    if (buf_reserve(r, 1) != 0)
        return -1;
    r->starts[r->n_fields] = r->field_start;
    r->lens[r->n_fields] = r->buf_len - r->field_start;
    r->n_fields++;
    r->buf[r->buf_len++] = '\0';
    r->field_start = r->buf_len;
    return 0;
}

static void record_begin(cn_csv_reader_t *r, const uchar *p)
{
    r->record_no++;
    r->rec_line = r->line;
    r->rec_offset = r->offset + (uint64_t)(p - r->chunk);
    r->state = ST_FIELD_START;
}

static void record_reset(cn_csv_reader_t *r)
{
    r->error = NULL;
    r->error_field = 0;
    r->fields_seen = 0;
    r->n_fields = 0;
    r->buf_len = r->field_start = r->rec_bytes = 0;
    r->u8_need = 0;
}

static int record_end(cn_csv_reader_t *r)
{
    int rc = field_end(r);
    if (rc != 0)
        return rc;
    cn_csv_record_t rec = {.record_no = r->record_no,
                           .line = r->rec_line,
                           .offset = r->rec_offset,
                           .error = r->error,
                           .error_field = r->error_field};
    if (r->error == NULL) {
        for (size_t i = 0; i < r->n_fields; i++)
            r->ptrs[i] = r->buf + r->starts[i];
        rec.fields = r->ptrs;
        rec.lens = r->lens;
        rec.n = r->n_fields;
    }
    rc = r->fn(&rec, r->ud);
    record_reset(r);
    return rc;
}

/* ---- lexer states ---- */

static inline const uchar *scan(const uchar *p, const uchar *end, uchar stop)
{
    while (end - p >= 4) {
        if (byte_class[p[0]] & stop)
            return p;
        if (byte_class[p[1]] & stop)
            return p + 1;
        if (byte_class[p[2]] & stop)
            return p + 2;
        if (byte_class[p[3]] & stop)
            return p + 3;
        p += 4;
    }
    while (p < end && !(byte_class[*p] & stop))
        p++;
    return p;
}

static int follows_cr(const cn_csv_reader_t *r, const uchar *p)
{
    return p > r->chunk ? p[-1] == '\r' : r->chunk_ended_cr;
}

/* A CR or LF outside quotes: counts the line and ends the record. */
static int break_ends_record(cn_csv_reader_t *r, const uchar **pp)
{
    uchar c = *(*pp)++;
    r->line++;
    r->state = c == '\r' ? ST_AFTER_CR : ST_RECORD_START;
    return record_end(r);
}

static const uchar *at_record_start(cn_csv_reader_t *r, const uchar *p)
{
    if (*p != '\r' && *p != '\n') {
        record_begin(r, p);
        return p;
    }
    r->line++; /* a blank line */
    r->state = *p == '\r' ? ST_AFTER_CR : ST_RECORD_START;
    return p + 1;
}

/* Consecutive unquoted fields are read in one loop: most data is short plain fields. */
static int in_unquoted(cn_csv_reader_t *r, const uchar **pp, const uchar *end)
{
    const uchar *p = *pp;
    int rc;
    for (;;) {
        const uchar *start = p;
        p = scan(p, end, END_UNQUOTED);
        rc = field_append(r, start, (size_t)(p - start));
        if (rc != 0 || p == end || *p != ',')
            break;
        p++;
        rc = field_end(r);
        if (rc != 0 || p == end || byte_class[*p] != 0) { /* the state machine takes it */
            r->state = ST_FIELD_START;
            break;
        }
    }
    *pp = p;
    if (rc != 0 || p == end || r->state == ST_FIELD_START)
        return rc;
    switch (*p) {
    case '\r':
    case '\n': return break_ends_record(r, pp);
    case '"': set_error(r, err_quote); break; /* and read on, taking it as a literal */
    default: set_error(r, err_nul); break;
    }
    *pp = p + 1;
    return 0;
}

static int at_field_start(cn_csv_reader_t *r, const uchar **pp, const uchar *end)
{
    switch (**pp) {
    case '"':
        (*pp)++;
        r->state = ST_QUOTED;
        return 0;
    case ',': (*pp)++; return field_end(r);
    case '\r':
    case '\n': return break_ends_record(r, pp);
    default: r->state = ST_UNQUOTED; return in_unquoted(r, pp, end);
    }
}

/* Line breaks inside quotes are data but still count as physical lines. */
static int in_quoted(cn_csv_reader_t *r, const uchar **pp, const uchar *end)
{
    const uchar *start = *pp, *p = start;
    for (;;) {
        p = scan(p, end, END_QUOTED);
        if (p == end || (*p != '\r' && *p != '\n'))
            break;
        if (*p == '\r' || !follows_cr(r, p))
            r->line++;
        p++;
    }
    int rc = field_append(r, start, (size_t)(p - start));
    *pp = p;
    if (rc != 0 || p == end)
        return rc;
    if (*p == '"')
        r->state = ST_QUOTE_IN_QUOTED;
    else
        set_error(r, err_nul);
    *pp = p + 1;
    return 0;
}

static int after_inner_quote(cn_csv_reader_t *r, const uchar **pp)
{
    const uchar *p = *pp;
    switch (*p) {
    case '"':
        *pp = p + 1;
        r->state = ST_QUOTED;
        return field_append(r, p, 1);
    case ',':
        *pp = p + 1;
        r->state = ST_FIELD_START;
        return field_end(r);
    case '\r':
    case '\n': return break_ends_record(r, pp);
    default:
        set_error(r, err_after_quote);
        r->state = ST_UNQUOTED; /* read the rest of the field as unquoted text */
        return 0;
    }
}

static int parse(cn_csv_reader_t *r, const uchar *p, size_t len)
{
    const uchar *end = p + len;
    int rc = 0;
    r->chunk = p;
    while (p < end && rc == 0) {
        switch (r->state) {
        case ST_RECORD_START: p = at_record_start(r, p); break;
        case ST_AFTER_CR:
            p += *p == '\n';
            r->state = ST_RECORD_START;
            break;
        case ST_FIELD_START: rc = at_field_start(r, &p, end); break;
        case ST_UNQUOTED: rc = in_unquoted(r, &p, end); break;
        case ST_QUOTED: rc = in_quoted(r, &p, end); break;
        case ST_QUOTE_IN_QUOTED: rc = after_inner_quote(r, &p); break;
        }
    }
    r->offset += len;
    r->chunk_ended_cr = len > 0 && end[-1] == '\r';
    return rc;
}

/* ---- BOM: the first bytes are held back until they are known to be one or not ---- */

static int bom_flush(cn_csv_reader_t *r)
{
    if (r->bom_done)
        return 0;
    r->bom_done = 1;
    return r->bom_matched > 0 ? parse(r, utf8_bom, r->bom_matched) : 0;
}

static int bom_skip(cn_csv_reader_t *r, const uchar **pp, size_t *len)
{
    while (*len > 0 && r->bom_matched < 3 && **pp == utf8_bom[r->bom_matched]) {
        r->bom_matched++;
        (*pp)++;
        (*len)--;
    }
    if (r->bom_matched == 3) {
        r->bom_done = 1;
        r->offset = 3;
        return 0;
    }
    return *len > 0 ? bom_flush(r) : 0; /* a mismatch: what matched so far is data */
}

/* ---- reader API ---- */

cn_csv_reader_t *cn_csv_reader_new(const cn_csv_limits_t *limits, cn_csv_record_fn fn, void *ud)
{
    cn_csv_reader_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    if (limits != NULL)
        r->lim = *limits;
    if (r->lim.max_field_bytes == 0)
        r->lim.max_field_bytes = CN_CSV_MAX_FIELD_BYTES;
    if (r->lim.max_fields == 0)
        r->lim.max_fields = CN_CSV_MAX_FIELDS;
    if (r->lim.max_record_bytes == 0)
        r->lim.max_record_bytes = CN_CSV_MAX_RECORD_BYTES;
    r->fn = fn;
    r->ud = ud;
    r->line = 1;
    r->fields_cap = 8;
    r->starts = malloc(r->fields_cap * sizeof *r->starts);
    r->lens = malloc(r->fields_cap * sizeof *r->lens);
    r->ptrs = malloc(r->fields_cap * sizeof *r->ptrs);
    if (r->starts == NULL || r->lens == NULL || r->ptrs == NULL) {
        cn_csv_reader_free(r);
        return NULL;
    }
    return r;
}

int cn_csv_feed(cn_csv_reader_t *r, const char *data, size_t len)
{
    if (r->stop_rc != 0)
        return r->stop_rc;
    const uchar *p = (const uchar *)data;
    int rc = r->bom_done ? 0 : bom_skip(r, &p, &len);
    if (rc == 0 && len > 0)
        rc = parse(r, p, len);
    r->stop_rc = rc;
    return rc;
}

int cn_csv_finish(cn_csv_reader_t *r)
{
    if (r->stop_rc != 0)
        return r->stop_rc;
    int rc = bom_flush(r); /* the input was shorter than a BOM */
    if (rc == 0 && r->state != ST_RECORD_START && r->state != ST_AFTER_CR) {
        if (r->state == ST_QUOTED) { /* the root cause of any other error in this record */
            r->error = err_unterminated;
            r->error_field = r->fields_seen + 1;
        }
        r->state = ST_RECORD_START;
        rc = record_end(r);
    }
    r->stop_rc = rc;
    return rc;
}

void cn_csv_reader_free(cn_csv_reader_t *r)
{
    if (r == NULL)
        return;
    free(r->buf);
    free(r->starts);
    free(r->lens);
    free(r->ptrs);
    free(r);
}

/* ---- writer ---- */

static int out_reserve(cn_csv_buf_t *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX / 4 - b->len) {
        b->failed = 1;
        return -1;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

static void out_bytes(cn_csv_buf_t *b, const char *s, size_t n)
{
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static int is_formula_start(const char *s, size_t len)
{
    return len > 0 && memchr("=+-@\t\r", s[0], 6) != NULL;
}

static int needs_quotes(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t')
        return 1;
    if (len >= 3 && memcmp(s, utf8_bom, 3) == 0) /* would be taken for the file's BOM */
        return 1;
    const uchar *p = (const uchar *)s;
    return scan(p, p + len, END_UNQUOTED) != p + len;
}

static size_t count_quotes(const char *s, size_t len)
{
    size_t n = 0;
    for (const char *q; (q = memchr(s, '"', len)) != NULL; n++) {
        len -= (size_t)(q + 1 - s);
        s = q + 1;
    }
    return n;
}

static void out_quoted(cn_csv_buf_t *b, const char *s, size_t len)
{
    for (const char *q; (q = memchr(s, '"', len)) != NULL;) {
        size_t n = (size_t)(q + 1 - s);
        out_bytes(b, s, n);
        out_bytes(b, "\"", 1);
        s += n;
        len -= n;
    }
    out_bytes(b, s, len);
}

int cn_csv_write_field(cn_csv_buf_t *b, const char *s, size_t len, unsigned flags)
{
    int guard = (flags & CN_CSV_TEXT) && is_formula_start(s, len);
    int quote = guard || needs_quotes(s, len);
    size_t n_quotes = quote ? count_quotes(s, len) : 0;
    if (out_reserve(b, len + n_quotes + 4) != 0) /* separator, two quotes, guard */
        return -1;
    if (b->n_fields > 0)
        out_bytes(b, ",", 1);
    if (quote)
        out_bytes(b, "\"", 1);
    if (guard)
        out_bytes(b, "'", 1);
    if (quote) {
        out_quoted(b, s, len);
        out_bytes(b, "\"", 1);
    } else if (len > 0) {
        out_bytes(b, s, len);
    }
    b->n_fields++;
    b->last_empty = !quote && len == 0;
    return 0;
}

int cn_csv_end_record(cn_csv_buf_t *b)
{
    if (b->n_fields == 0)
        return b->failed ? -1 : 0;
    if (out_reserve(b, 4) != 0)
        return -1;
    if (b->n_fields == 1 && b->last_empty) /* else the record would be a skipped blank line */
        out_bytes(b, "\"\"", 2);
    out_bytes(b, "\r\n", 2);
    b->n_fields = 0;
    b->last_empty = 0;
    return 0;
}

int cn_csv_write_bom(cn_csv_buf_t *b)
{
    if (out_reserve(b, 3) != 0)
        return -1;
    out_bytes(b, (const char *)utf8_bom, 3);
    return 0;
}

void cn_csv_buf_free(cn_csv_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
