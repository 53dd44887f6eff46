/*
 * GDPR: GET /api/v1/users/me/export answers everything held about the caller as JSON;
 * DELETE /api/v1/users/me erases the account (its sessions end at once, its data goes,
 * its audit entries are anonymised).
 */
#ifndef CAIRN_AUTH_GDPR_H
#define CAIRN_AUTH_GDPR_H

#include "core/http.h"

/** The routes auth.c's table names. */
int auth_get_export(cn_req_t *r);
int auth_delete_me(cn_req_t *r);

#endif
