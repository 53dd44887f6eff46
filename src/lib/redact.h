/*
 * Credentials out of connection URLs before they are shown: `cairn config check`, the
 * messages that name a bad URL, logs. Pure text work on what an operator configured; no
 * allocation, nothing from the rest of Cairn. It redacts by shape, more than a parser
 * would take as a secret rather than less, because what it leaves may be printed anywhere.
 */
#ifndef CAIRN_LIB_REDACT_H
#define CAIRN_LIB_REDACT_H

#include <stddef.h>

/**
 * Copies url into out (cap > 0 bytes; always NUL-terminated, cut when too long) with each
 * secret replaced by "***":
 * - the password of `scheme://user:password@host` (so `postgres://cairn:***@db:5432/cairn`),
 *   the userinfo ending at the last '@' before the query, so a password holding '@', '/' or
 *   ',' is covered whole;
 * - a bare `token@` when the scheme is not PostgreSQL's (`nats://TOKEN@host`: NATS takes
 *   it as a token; PostgreSQL as the user name, which stays);
 * - the value of every query parameter whose name ends in "password", in any case and
 *   percent-encoded or not (libpq's `password=` and `sslpassword=`).
 * Outside postgres:// and postgresql:// URLs, a comma separates URLs (a NATS server list)
 * and each is redacted on its own.
 */
void cn_url_redact(const char *url, char *out, size_t cap);

#endif
