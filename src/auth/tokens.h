/*
 * Access tokens (JWT HS256 with a key id), their signing keys, the set of revoked
 * sessions, and refresh-token material. Keys live in the store and in memory; any key
 * still known verifies, the newest signs, so rotating never logs anyone out.
 */
#ifndef CAIRN_AUTH_TOKENS_H
#define CAIRN_AUTH_TOKENS_H

#include "store/store.h"

#define AUTH_ACCESS_TTL_S 900               /* 15 minutes */
#define AUTH_REFRESH_TTL_S (30 * 24 * 3600) /* 30 days */
#define AUTH_ISSUER "cairn"
#define AUTH_AUDIENCE "cairn-api"

typedef struct st_auth_claims_t {
    char sub[40]; /* user id */
    char tid[40]; /* tenant id */
    char sid[40]; /* session id */
    char role[32];
    int mfa;               /* the session was opened with a second factor */
    int64_t iat, nbf, exp; /* seconds */
} auth_claims_t;

/** Loads the signing keys, creating the first one in an empty store. */
int auth_keys_load(cn_store_t *s, cn_err_t *err);
/** Adds a new signing key (it signs from now on). Writes its id to kid. */
int auth_keys_rotate(cn_store_t *s, char kid[40], cn_err_t *err);
void auth_keys_free(void);
/** Re-reads the keys when the copy in memory is over a minute old (before signing). */
void auth_keys_refresh(cn_store_t *s);

/** Signs claims into a JWT. Returns a malloc'd string, or NULL (no key). */
char *auth_token_issue(const auth_claims_t *c);

/**
 * Verifies a JWT: alg exactly HS256, a known kid (reloading keys from s once if unknown),
 * the HMAC compared in constant time, iss/aud, nbf <= now < exp. Returns 0 with out
 * filled, or -1 with *why set to a reason safe to show.
 */
int auth_token_verify(const char *token, size_t len, int64_t now_s, cn_store_t *s,
                      auth_claims_t *out, const char **why);

/** Marks a session (or an API key, by its id) revoked in this process until its access
 * tokens have expired; open realtime connections of it close at the hub's next tick. */
void auth_revoke_session(const char *sid);
/** 1 when the session was revoked (checked on every authenticated request). */
int auth_session_revoked(const char *sid);
/**
 * Runs sql, a statement answering session ids in its first column (a SELECT, or an
 * UPDATE ... RETURNING id), and marks each of them revoked. *count (may be NULL) gets how
 * many. Returns 0 or the store's error.
 */
int auth_revoke_sessions(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n,
                         int64_t *count, cn_err_t *err);

/** Loads sessions revoked within the access-token lifetime (at start-up). */
int auth_revocations_load(cn_store_t *s, cn_err_t *err);

/** A new opaque refresh token (base64url of 32 random bytes) and its SHA-256 hex. */
void auth_refresh_new(char token[48], char hash[65]);
/** SHA-256 hex of a presented refresh token. */
void auth_refresh_hash(const char *token, size_t len, char hash[65]);

#endif
