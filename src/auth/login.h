/*
 * Signing in and out: the password sign-in (checked on a worker), the sessions that it,
 * registration and the MFA step open, the token pair they answer (in the body, or as
 * HttpOnly cookies for a browser), and logout.
 */
#ifndef CAIRN_AUTH_LOGIN_H
#define CAIRN_AUTH_LOGIN_H

#include "auth/tokens.h"
#include "core/http.h"

/** Answers the token pair for claims c and refresh (as cookies only when cookies is set). */
int auth_reply_tokens(cn_req_t *r, const auth_claims_t *c, const char *refresh, int cookies,
                      int status);
/** The session is live in memory from now on: its tokens are accepted on every thread. */
void auth_session_live(const auth_claims_t *c, int64_t expires_ms);
/** Claims of a new access token for user in tenant with role, of session sid. */
void auth_fill_claims(auth_claims_t *c, const char *user, const char *tenant, const char *role,
                      const char *sid, int mfa);
/** Ends session sid: its row is marked revoked and, at once, the in-memory set. */
int auth_session_end(cn_req_t *r, const char *sid);
/** Refuses (400) a credential without a session (an API key, the operator token). */
int auth_need_session(cn_req_t *r);

/** The routes auth.c's table names. */
int auth_post_login(cn_req_t *r);
int auth_post_register(cn_req_t *r);
int auth_post_register_confirm(cn_req_t *r);
int auth_post_mfa_verify(cn_req_t *r);
int auth_post_logout(cn_req_t *r);
int auth_post_logout_all(cn_req_t *r);

#endif
