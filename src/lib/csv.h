/*
 * Streaming CSV (RFC 4180) for the customer-insights import and export: a push parser fed
 * arbitrary chunks that hands complete records to a callback, and a field writer that quotes
 * and guards against formula injection. Input must be UTF-8. No I/O and nothing from the
 * rest of Cairn; the reader never buffers more than one record, bounded by its limits.
 * Written here because no linked library parses CSV, and the ones that exist keep no UTF-8
 * state across chunks nor record numbers that ignore how the input was split.
 *
 * Reader decisions:
 * - Records end with CRLF, LF or a lone CR (classic Mac exports); each counts as one
 *   physical line. Inside quotes CR and LF are data, kept verbatim.
 * - Blank lines between records are skipped and get no record number, so a record of a
 *   single empty field must be written as "" (the writer does this).
 * - A UTF-8 BOM at the very start is skipped; byte offsets still count it.
 * - A bad record is delivered with an error and no fields, then parsing continues. The
 *   rest of a bad record is still lexed by the normal rules (quotes keep separators and
 *   line breaks inside them), with a stray quote taken as a literal, so the next record
 *   starts where a lenient parser would put it; nothing of the bad record is buffered.
 *   An unterminated quote runs to the end of input and is a single error.
 * - NUL bytes are rejected like invalid UTF-8 (they usually mean a UTF-16 file).
 * - Record numbers depend only on the bytes, never on how they were split into chunks,
 *   so a restarted import can skip the records it already stored.
 */
#ifndef CAIRN_LIB_CSV_H
#define CAIRN_LIB_CSV_H

#include <stddef.h>
#include <stdint.h>

/** Default limits, used for every zero member of cn_csv_limits_t. */
#define CN_CSV_MAX_FIELD_BYTES (64u * 1024u)
#define CN_CSV_MAX_FIELDS 256u
#define CN_CSV_MAX_RECORD_BYTES (1024u * 1024u)

/** Per-record bounds; a record that breaks one is reported as an error and skipped. */
typedef struct st_cn_csv_limits_t {
    size_t max_field_bytes;  /* decoded bytes in one field */
    size_t max_fields;       /* fields in one record */
    size_t max_record_bytes; /* decoded bytes in all fields of one record */
} cn_csv_limits_t;

/** One record as handed to the callback; everything in it is valid only during the call. */
typedef struct st_cn_csv_record_t {
    const char *const *fields; /* n fields, each also NUL-terminated; NULL on error */
    const size_t *lens;        /* byte length of each field */
    size_t n;                  /* field count; 0 when error is set */
    uint64_t record_no;        /* 1-based; the header row is record 1 */
    uint64_t line;             /* 1-based physical line where the record began */
    uint64_t offset;           /* 0-based byte offset where the record began */
    const char *error;         /* NULL, or a static message saying why the record is bad */
    size_t error_field;        /* 1-based field where the error was found; 0 if none */
} cn_csv_record_t;

/** What a record callback returns: parse on, or stop after this record. */
enum { CN_CSV_GO_ON = 0, CN_CSV_STOP = 1 };

/** Receives each record; returns CN_CSV_GO_ON, or CN_CSV_STOP (any non-zero) to stop. */
typedef int (*cn_csv_record_fn)(const cn_csv_record_t *rec, void *ud);

/** Incremental reader; owned by its creator, freed with cn_csv_reader_free. */
typedef struct st_cn_csv_reader_t cn_csv_reader_t;

/** Creates a reader. limits may be NULL for the defaults. Returns NULL when out of memory. */
cn_csv_reader_t *cn_csv_reader_new(const cn_csv_limits_t *limits, cn_csv_record_fn fn, void *ud);

/**
 * Parses the next len bytes of input; a chunk may end anywhere (inside quotes, between CR
 * and LF, inside a UTF-8 sequence). Returns 0, the callback's non-zero result (the reader
 * then ignores all further input and keeps returning it), or -1 when out of memory.
 */
int cn_csv_feed(cn_csv_reader_t *r, const char *data, size_t len);

/**
 * Ends the input: delivers a last record that lacks its line break and reports an
 * unterminated quote. Returns like cn_csv_feed. Call it once, after the last feed.
 */
int cn_csv_finish(cn_csv_reader_t *r);

/** Frees the reader (NULL is fine). */
void cn_csv_reader_free(cn_csv_reader_t *r);

/**
 * Output buffer of the writer. Zero-initialise it; data[0..len) is the CSV so far, which the
 * caller may consume at any time by setting len to 0. Owned by the caller: cn_csv_buf_free.
 */
typedef struct st_cn_csv_buf_t {
    char *data;
    size_t len, cap;
    size_t n_fields; /* fields written to the record in progress */
    int last_empty;  /* the last field was written as nothing at all */
    int failed;      /* sticky: an allocation failed and output was dropped */
} cn_csv_buf_t;

/** Flag for cn_csv_write_field: free text, guarded against formula injection. */
#define CN_CSV_TEXT 1u

/**
 * Appends a field to the record in progress, with the separator before it. Quotes it when it
 * holds a comma, quote, CR or LF, begins or ends with a space or tab, or begins with a BOM.
 * With CN_CSV_TEXT, a field starting with = + - @ tab or CR is prefixed with ' and quoted
 * (OWASP CSV injection); leave the flag off for numbers such as -0.5. Returns 0, or -1 when
 * out of memory (then b->failed stays set and every later write is dropped).
 */
int cn_csv_write_field(cn_csv_buf_t *b, const char *s, size_t len, unsigned flags);

/** Ends the record in progress with CRLF. A record with no fields writes nothing. */
int cn_csv_end_record(cn_csv_buf_t *b);

/** Appends a UTF-8 BOM, which spreadsheet programs need to read the export as UTF-8. */
int cn_csv_write_bom(cn_csv_buf_t *b);

/** Releases the buffer's memory and zeroes it. */
void cn_csv_buf_free(cn_csv_buf_t *b);

#endif
