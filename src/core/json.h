/*
 * JSON in and out, on jansson. Parsing rejects duplicate keys, invalid UTF-8 and nesting
 * deeper than jansson's limit, and reports where the text went wrong (line and column).
 */
#ifndef CAIRN_CORE_JSON_H
#define CAIRN_CORE_JSON_H

#include "base/common.h"

#include <jansson.h>
#include <string.h>

/**
 * Parses len bytes of JSON. On success returns a new reference; on failure returns NULL
 * and err holds CN_EINVAL and "malformed JSON at line L, column C: reason".
 */
json_t *cn_json_parse(const char *buf, size_t len, cn_err_t *err);

/** A growable byte buffer owned by its user. */
typedef struct st_cn_buf_t {
    char *data;
    size_t len;
    size_t cap;
} cn_buf_t;

void cn_buf_reserve(cn_buf_t *b, size_t extra);
void cn_buf_append(cn_buf_t *b, const void *p, size_t n);

/** cn_buf_append with the capacity check inline: for writers of many short pieces. */
static inline void cn_buf_put(cn_buf_t *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap)
        cn_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}
/** Appends a string literal. */
#define cn_buf_lit(b, s) cn_buf_append((b), (s), sizeof(s) - 1)
void cn_buf_appendf(cn_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Appends s as the inside of a JSON string literal (escaping quotes, controls, bad bytes). */
void cn_buf_append_json_str(cn_buf_t *b, const char *s, size_t n);
void cn_buf_free(cn_buf_t *b);

/**
 * A streaming JSON writer for hot responses: appends straight to a buffer, with commas
 * placed automatically. Nesting deeper than CN_JW_MAX_DEPTH is a programming error.
 */
#define CN_JW_MAX_DEPTH 16

typedef struct st_cn_jw_t {
    cn_buf_t *b;
    int depth;
    unsigned char has_items[CN_JW_MAX_DEPTH]; /* per level: a comma is due before the next */
    char closer[CN_JW_MAX_DEPTH];             /* per level: '}' or ']' */
    int after_key;
} cn_jw_t;

void cn_jw_init(cn_jw_t *w, cn_buf_t *b);
void cn_jw_object(cn_jw_t *w);
void cn_jw_array(cn_jw_t *w);
void cn_jw_end(cn_jw_t *w); /* closes the innermost object or array */
void cn_jw_key(cn_jw_t *w, const char *key);
void cn_jw_str(cn_jw_t *w, const char *s, size_t len);
void cn_jw_int(cn_jw_t *w, int64_t v);
/** A number in its shortest exact form; NaN and infinities become null. */
void cn_jw_real(cn_jw_t *w, double v);
void cn_jw_null(cn_jw_t *w);
void cn_jw_bool(cn_jw_t *w, int v);
/** Inserts a value that is already JSON text (trusted: written by this program). */
void cn_jw_raw(cn_jw_t *w, const char *json, size_t len);

/** Serialises compactly, appending to b. */
void cn_json_dump(const json_t *j, cn_buf_t *b);

#endif
