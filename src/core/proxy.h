/*
 * Trusted reverse proxies. Behind nginx or HAProxy every connection comes from the proxy,
 * so the client's address is taken from X-Forwarded-For — but only when the connection
 * comes from a configured proxy (server.trusted_proxies), and only as far as the chain of
 * trusted hops reaches: the rightmost address not itself a trusted proxy is the client.
 * Anything to its left was written by the client and is ignored.
 */
#ifndef CAIRN_CORE_PROXY_H
#define CAIRN_CORE_PROXY_H

#include <stddef.h>

typedef struct st_cn_proxies_t cn_proxies_t;

/**
 * Parses "10.0.0.0/8, 127.0.0.1, ::1, fd00::/8" (addresses or CIDR blocks, separated by
 * commas or spaces). Returns 0 with *out set (NULL for an empty list), or -1 with bad
 * pointing at the rejected entry (copied into bad, cap bytes).
 */
int cn_proxies_parse(const char *list, cn_proxies_t **out, char *bad, size_t cap);
void cn_proxies_free(cn_proxies_t *p);

/** 1 when the textual address (IPv4 or IPv6) lies in one of the blocks. */
int cn_proxies_trust(const cn_proxies_t *p, const char *addr);

/**
 * The client's address: peer itself unless peer is trusted; then X-Forwarded-For (xff,
 * the header's entries joined by commas, may be NULL) is walked from the right while the
 * hops are trusted. An entry that is not an address stops the walk at the hop that sent
 * it. The result is written normalised (inet_ntop) into out.
 */
void cn_proxies_client(const cn_proxies_t *p, const char *peer, const char *xff, size_t xff_len,
                       char *out, size_t cap);

#endif
