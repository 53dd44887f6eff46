/*
 * The live-session table: every session this process knows, live or revoked, shared by
 * all loop threads. An access token is accepted only when its session is here, live (not
 * revoked, not expired) and of the token's tenant and user; the role and the MFA flag
 * are the session's, never the token's. A sid not in memory costs one indexed read of
 * the database (then it is kept): sessions opened by another process sharing the
 * database are found, never refused for being new to this one.
 */
#ifndef CAIRN_AUTH_SESSIONS_H
#define CAIRN_AUTH_SESSIONS_H

#include "core/http.h"
#include "store/store.h"

#include <stdint.h>

struct st_auth_claims_t;

/** What a live session grants: copied into the table when it opens or refreshes. */
typedef struct st_auth_session_t {
    char sid[40], tid[40], sub[40], role[CN_ROLE_NAME_MAX + 1];
    int mfa;           /* opened with a second factor */
    int64_t expires_s; /* the session's end (its refresh token's expiry) */
} auth_session_t;

/** Records a live session (sign-in, refresh). A session already revoked stays revoked. */
void auth_session_put(const auth_session_t *s);

/**
 * Checks verified claims against their session: 0 when it is live and names the same
 * tenant and user, with c->role and c->mfa replaced by the session's. A sid unknown here
 * is read from s (one indexed read) and kept. -1 with *why (safe to show) otherwise.
 */
int auth_session_check(cn_store_t *s, struct st_auth_claims_t *c, int64_t now_s, const char **why);

/** The reasons of auth_session_check that say the session is over (sign in again), and
 *  the one that says nothing about the token (the store did not answer); by address. */
extern const char auth_why_signed_out[];
extern const char auth_why_session_expired[];
extern const char auth_why_session_unchecked[];

/** Marks a session (or an API key, by its id) revoked in this process and, over the
 * cluster bus, on every other node, until its access tokens have expired; open realtime
 * connections of it close at the hub's next tick. */
void auth_revoke_session(const char *sid);
/** 1 when the session was revoked (the realtime hub asks this every tick). */
int auth_session_revoked(const char *sid);
/** auth_session_revoked, or (tid not NULL) the live session is now another tenant's: the
 *  kernel's session hook (a session moves with POST /api/v1/auth/switch). */
int auth_session_gone(const char *sid, const char *tid);
/**
 * Runs sql, a statement answering session ids in its first column (a SELECT, or an
 * UPDATE ... RETURNING id), and marks each of them revoked. *count (may be NULL) gets how
 * many. Returns 0 or the store's error.
 */
int auth_revoke_sessions(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n,
                         int64_t *count, cn_err_t *err);

/** Loads live sessions and those revoked within the access-token lifetime (start-up). */
int auth_sessions_load(cn_store_t *s, cn_err_t *err);
/** Loads sessions revoked within the access-token lifetime. */
int auth_revocations_load(cn_store_t *s, cn_err_t *err);
/** Marks revoked in memory the sessions revoked after since_ms (by any process). */
int auth_revocations_since(cn_store_t *s, int64_t since_ms, cn_err_t *err);
/** Takes other nodes' revocations from the process's cluster bus, if it has one (start). */
CN_MUST_CHECK int auth_sessions_attach_bus(cn_err_t *err);
/** Empties the table (tests; stop). */
void auth_sessions_free(void);

#endif
