/*
 * Passwords: argon2id hashing (libsodium) with parameters stored in the hash string, and
 * the password policy. Hashing is deliberately slow (tens of milliseconds): call these on
 * a worker thread or in the CLI, never on an event loop.
 */
#ifndef CAIRN_AUTH_PASSWORDS_H
#define CAIRN_AUTH_PASSWORDS_H

#include <stddef.h>

/** Length of a hash string including its NUL (libsodium's crypto_pwhash_STRBYTES). */
#define AUTH_HASH_LEN 128

/** Where the common-password list comes from (Debian package john-data). */
#define AUTH_COMMON_PASSWORDS "/usr/share/john/password.lst"

/**
 * Initialises libsodium and loads the common-password list from list_path. Returns 0, or
 * -1 (list unreadable, no memory). The dummy hash that answers unknown e-mails is made on
 * first use.
 */
int auth_passwords_init(const char *list_path);

/** Hashes with the current parameters (OWASP: m=19 MiB, t=2, p=1). Returns 0 or -1. */
int auth_password_hash(const char *password, size_t len, char out[AUTH_HASH_LEN]);

/** 1 when password matches hash. A NULL hash verifies against the dummy (and fails). */
int auth_password_verify(const char *hash, const char *password, size_t len);

/** 1 when hash was made with weaker parameters than the current ones. */
int auth_password_needs_rehash(const char *hash);

/**
 * Checks the policy: 12-256 characters, not containing the e-mail (or its local part),
 * not on the common-password list (also with trailing digits and symbols removed, so
 * "password1234!" counts as "password"), not judged weak by cracklib. Returns NULL when acceptable,
 * else a reason for humans.
 */
const char *auth_password_policy(const char *password, size_t len, const char *email);

#endif
