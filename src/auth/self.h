/*
 * The caller's own account: who it is (GET /api/v1/users/me), its session as checked
 * (GET /api/v1/auth/session) and changing its password (POST /api/v1/auth/password).
 */
#ifndef CAIRN_AUTH_SELF_H
#define CAIRN_AUTH_SELF_H

#include "core/http.h"

/** The routes auth.c's table names. */
int auth_get_me(cn_req_t *r);
int auth_get_session(cn_req_t *r);
int auth_post_password(cn_req_t *r);

#endif
