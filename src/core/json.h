/*
 * JSON in and out, on jansson. Parsing rejects duplicate keys, invalid UTF-8 and nesting
 * deeper than jansson's limit, and reports where the text went wrong (line and column).
 */
#ifndef CAIRN_CORE_JSON_H
#define CAIRN_CORE_JSON_H

#include "core/common.h"

#include <jansson.h>

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
/** Appends a string literal. */
#define cn_buf_lit(b, s) cn_buf_append((b), (s), sizeof(s) - 1)
void cn_buf_appendf(cn_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Appends s as the inside of a JSON string literal (escaping quotes, controls, bad bytes). */
void cn_buf_append_json_str(cn_buf_t *b, const char *s, size_t n);
void cn_buf_free(cn_buf_t *b);

/** Serialises compactly, appending to b. */
void cn_json_dump(const json_t *j, cn_buf_t *b);

#endif
