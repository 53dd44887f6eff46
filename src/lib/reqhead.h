/*
 * The framing headers of a raw HTTP/1 request head, counted line by line. The HTTP parser
 * keeps only one Content-Length, Transfer-Encoding or Host and drops the rest; whoever must
 * refuse a request that two parsers could frame differently (RFC 9112 section 6.3) needs
 * the count of every such line, which only the raw head still has.
 */
#ifndef CAIRN_LIB_REQHEAD_H
#define CAIRN_LIB_REQHEAD_H

#include <stddef.h>

/** What cn_reqhead_scan found in one request head. */
typedef struct {
    size_t head_len;            /* bytes from the request line through the empty line */
    unsigned content_length;    /* header lines named Content-Length (any case) */
    unsigned transfer_encoding; /* header lines named Transfer-Encoding (any case) */
    unsigned host;              /* header lines named Host (any case) */
    unsigned folded;            /* continuation lines (obs-fold: starting with SP or HT) */
} cn_reqhead_t;

/**
 * Scans the head at the start of buf (len bytes): one optional empty line, the request
 * line, then header lines
 * ending in LF or CRLF, up to the first empty line. A header's name is what precedes its
 * first ':'. Returns 0 with *out filled, or -1 if buf holds no complete head.
 */
int cn_reqhead_scan(const char *buf, size_t len, cn_reqhead_t *out);

#endif
