/*
 * Access tokens (JWT HS256 with a key id), their signing keys and refresh-token material.
 * Keys live in the store sealed by the vault (vault.h) and in memory. The newest key that
 * is not retired signs; a retired key verifies until its deadline (one token lifetime
 * after a rotation, at once after `cairn keys retire`), so rotating logs nobody out and
 * retiring ends every token it signed. A verified token is only half the check: its
 * session must be live (sessions.h).
 *
 * The JWT fast path is written out rather than through libjwt (which the tests check it
 * against) or libsodium's constant-time base64 and compare: they made issuing 38 % and
 * uncached verifying 22 % dearer, and a byte-wise compare cost 2 % of an authenticated GET.
 */
#ifndef CAIRN_AUTH_TOKENS_H
#define CAIRN_AUTH_TOKENS_H

#include "auth/sessions.h"
#include "store/store.h"

/* The longest access-token lifetime (auth.access_ttl_s may shorten it): the revocation list
 * and the signing keys' grace are sized for it, so a shorter lifetime needs no other change. */
#define AUTH_ACCESS_TTL_S 900               /* 15 minutes */
#define AUTH_REFRESH_TTL_S (30 * 24 * 3600) /* 30 days */
#define AUTH_ISSUER "cairn"
#define AUTH_AUDIENCE "cairn-api"
/* A rotated-out key verifies this long: a token lifetime, plus the second a server may
 * take to see the rotation and the minute of margin for clocks between processes. */
#define AUTH_KEY_GRACE_S (AUTH_ACCESS_TTL_S + 60)

typedef struct st_auth_claims_t {
    char sub[40]; /* user id */
    char tid[40]; /* tenant id */
    char sid[40]; /* session id */
    char role[CN_ROLE_NAME_MAX + 1];
    int mfa;               /* the session was opened with a second factor */
    int64_t iat, nbf, exp; /* seconds */
} auth_claims_t;

/**
 * What serialises changes to the set of signing keys, taken first in their transaction:
 * NULL on SQLite (the process write lock does it); a transaction-level advisory lock on
 * PostgreSQL, so several nodes on one database change the keys one after the other.
 */
extern const cn_sql_pair_t auth_keys_lock;

/** Loads the signing keys, adding a new one when none may sign. Needs the vault open. */
int auth_keys_load(cn_store_t *s, cn_err_t *err);
/**
 * Adds a new signing key, sealed (it signs from now on), and retires the others: they
 * verify for AUTH_KEY_GRACE_S more. Writes its id to kid.
 */
int auth_keys_rotate(cn_store_t *s, char kid[40], cn_err_t *err);
/**
 * Retires signing keys at once: tokens they signed stop verifying (a running server sees
 * it within a second). kid NULL: every key but the newest active one; else that key, and
 * when it is the one signing, a new key is added first. Calls each (may be NULL) with
 * every kid retired. CN_ENOTFOUND for an unknown kid.
 */
int auth_keys_retire(cn_store_t *s, const char *kid, void (*each)(const char *kid, void *ud),
                     void *ud, cn_err_t *err);
/** Seals keys stored in plain hex by an older version (start-up). *sealed: how many. */
int auth_keys_seal_plain(cn_store_t *s, int64_t *sealed, cn_err_t *err);
/**
 * Counts keys that still verify but do not open with the vault key (a database restored
 * without its secrets key file). With retire, those end at once.
 */
int auth_keys_unusable(cn_store_t *s, int retire, int64_t *count, cn_err_t *err);
/** Opens a sealed key of the signing_keys table (for tests and tools). 0 or -1. */
int auth_key_unseal(const char *kid, const char *sealed, size_t len, uint8_t secret[32]);
void auth_keys_free(void);
/** Re-reads the keys when the copy in memory is over a second old (before signing). */
void auth_keys_refresh(cn_store_t *s);

/** Signs claims into a JWT. Returns a malloc'd string, or NULL (no key). */
char *auth_token_issue(const auth_claims_t *c);

/**
 * Verifies a JWT: alg exactly HS256, a known kid whose key is not past its retirement
 * deadline (keys are re-read from s at most once a second), the HMAC compared in constant
 * time, iss/aud, nbf <= now < exp. Returns 0 with out filled, or -1 with *why set to a
 * reason safe to show. The session is not checked here (auth_session_check).
 */
int auth_token_verify(const char *token, size_t len, int64_t now_s, cn_store_t *s,
                      auth_claims_t *out, const char **why);

/** The reasons of auth_token_verify a client can act on (its session may go on: refresh),
 *  told apart by address, never by reading the text. */
extern const char auth_why_token_expired[];
extern const char auth_why_key_retired[];

/** A new opaque refresh token (base64url of 32 random bytes) and its SHA-256 hex. */
void auth_refresh_new(char token[48], char hash[65]);
/** SHA-256 hex of a presented refresh token. */
void auth_refresh_hash(const char *token, size_t len, char hash[65]);

#endif
