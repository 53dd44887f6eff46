/*
 * Pure validators and converters for the wire formats the API accepts: UUIDs, e-mail
 * addresses, RFC 3339 date-times, UUIDv7 generation from caller-supplied entropy, and
 * base64url. No I/O, no allocation, nothing from the rest of Cairn.
 *
 * base64url is libsodium's (constant time, so secrets encoded with it leak nothing through
 * timing; its codecs need no sodium_init()), beside a table codec for public data on hot
 * paths. UUIDv7 is written out here: no linked library makes RFC 9562 version 7 ids, and
 * the layout is a few shifts over 16 bytes.
 */
#ifndef CAIRN_LIB_FORMATS_H
#define CAIRN_LIB_FORMATS_H

#include <stddef.h>
#include <stdint.h>

/** Length of a canonical UUID string, without the terminating NUL. */
#define CN_UUID_LEN 36

/** True when s[0..len) is a UUID in 8-4-4-4-12 hex form (either case). */
int cn_is_uuid(const char *s, size_t len);

/** True when s[0..len) looks like a deliverable address: local@domain.tld, no spaces. */
int cn_is_email(const char *s, size_t len);

/**
 * Parses an RFC 3339 date-time ("2026-11-22T10:00:00.123Z", "...+02:00").
 * Stores Unix milliseconds in *out_ms. Returns 0, or -1 when the text is not a valid
 * date-time (bad shape, month 13, February 30, ...).
 */
int cn_parse_rfc3339(const char *s, size_t len, int64_t *out_ms);

/** Formats Unix milliseconds as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (>= 25 bytes). */
size_t cn_format_rfc3339(int64_t ms, char *buf);

/**
 * Writes a UUIDv7 (RFC 9562) for time unix_ms using 10 random bytes, as 36 lowercase
 * characters plus NUL into out (>= 37 bytes).
 */
void cn_uuid7_format(int64_t unix_ms, const uint8_t random[10], char out[CN_UUID_LEN + 1]);

/**
 * Encodes len bytes as unpadded base64url into out (>= 4*ceil(len/3)+1), in constant time
 * (libsodium): for secrets. Returns the length.
 */
size_t cn_base64url_encode(const uint8_t *in, size_t len, char *out);

/**
 * Decodes unpadded base64url in constant time (libsodium). out must hold len*3/4 bytes.
 * Returns the decoded length, or -1 on a character outside the alphabet, an impossible
 * length or leftover bits that are not zero (so no two texts decode alike).
 */
long cn_base64url_decode(const char *in, size_t len, uint8_t *out);

/**
 * The same two conversions, same output and same refusals, written out here with a table.
 * They take time that depends on the data: only for what is not secret, on hot paths (JWT
 * segments, list cursors), where libsodium's constant-time codec costs 3 to 4.5 times the
 * instructions (bench/RESULTS.md, "Session 10: shared helpers").
 */
size_t cn_base64url_encode_fast(const uint8_t *in, size_t len, char *out);
/** See cn_base64url_encode_fast. */
long cn_base64url_decode_fast(const char *in, size_t len, uint8_t *out);

#endif
