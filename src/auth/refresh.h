/*
 * Refresh tokens and their rotation (POST /api/v1/auth/refresh). A refresh token is
 * "<session id>.<generation>.<secret>"; each use answers a new generation, and a rotated
 * token coming back revokes its session (a copy was kept somewhere).
 */
#ifndef CAIRN_AUTH_REFRESH_H
#define CAIRN_AUTH_REFRESH_H

#include "core/http.h"

#include <stdint.h>

/** The longest refresh token (the request schema's bound as well). */
#define AUTH_REFRESH_MAX 128

/** A new refresh token of session sid at generation gen, and its SHA-256 (hex). */
void auth_refresh_make(const char *sid, int64_t gen, char token[AUTH_REFRESH_MAX], char hash[65]);

/** POST /api/v1/auth/refresh: rotates the token (from the body or the cairn_rt cookie). */
int auth_post_refresh(cn_req_t *r);

/** GET /api/v1/auth/tenants: the tenants the signed-in account is a member of. */
int auth_list_my_tenants(cn_req_t *r);

/**
 * POST /api/v1/auth/switch {tenant, refresh_token?, cookie?}: moves the caller's session to
 * another tenant of the account, spending its refresh token (the body's or the cairn_rt
 * cookie's) as a refresh does; answers tokens, or the MFA challenge when the target's
 * policy asks for a second factor the session has not given (the session then ends).
 */
int auth_post_switch(cn_req_t *r);
extern const cn_schema_t auth_switch_schema;

#endif
