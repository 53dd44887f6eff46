/*
 * User-Agent normalisation for analytics: device type, OS family, client family and the
 * client's major version, by matching a short ordered list of tokens. It is a coarse
 * classifier for grouping, not a full parser (no device models, no minor versions). Pure:
 * no I/O, no allocation, at most CN_UA_SCAN_MAX bytes read whatever the input.
 * Written here because no linked library classifies User-Agents; the regex sets of full
 * parsers (uap-core) are a large dependency for four coarse fields on the ingest path.
 */
#ifndef CAIRN_LIB_USERAGENT_H
#define CAIRN_LIB_USERAGENT_H

#include <stddef.h>

/** Bytes of a User-Agent that are looked at; the tokens that matter come well before. */
#define CN_UA_SCAN_MAX 512

/**
 * A normalised User-Agent. The strings are static literals, never NULL:
 * device: "desktop", "mobile", "tablet", "bot", "unknown";
 * os:     "Windows", "macOS", "iOS", "Android", "Linux", "ChromeOS", "other";
 * client: "Chrome", "Firefox", "Safari", "Edge", "Opera", "Samsung Internet", "curl",
 *         "bot", "other".
 */
typedef struct st_cn_ua_t {
    const char *device;
    const char *os;
    const char *client;
    int client_major; /* the client's major version, -1 when not found */
} cn_ua_t;

/**
 * Classifies the User-Agent ua[0..len) (any bytes; NUL is not special). Always fills
 * *out; an empty or unrecognised string gives "unknown" / "other" / "other" / -1.
 * Known limits: iPadOS in desktop mode says "Macintosh" and counts as a macOS desktop;
 * Android without "Mobile" counts as a tablet (so do Android TVs); Chromium-based
 * browsers that do not name themselves count as Chrome.
 */
void cn_ua_parse(const char *ua, size_t len, cn_ua_t *out);

#endif
