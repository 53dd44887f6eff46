/*
 * Password reset by e-mail: POST /api/v1/auth/password/reset-request mails a single-use
 * token (through the job queue and cn_mail_send), POST /api/v1/auth/password/reset spends
 * it on a new password, ends every session of the account and clears its sign-in lockout.
 */
#ifndef CAIRN_AUTH_RESET_H
#define CAIRN_AUTH_RESET_H

#include "auth/settings.h"
#include "core/http.h"
#include "core/jobs.h"

/** The password_resets table (migration auth/12). */
extern const char auth_reset_migration_sql[];
extern const cn_schema_t auth_reset_request_schema;
extern const cn_schema_t auth_reset_schema;
extern const cn_job_type_t auth_reset_jobs[];

/**
 * A new mailed token: 256 random bits as base64url in token, its SHA-256 (hex) in hash.
 * Only the hash is stored; the token exists only in the mail.
 */
void auth_mail_token(char token[64], char hash[65]);

/** Appends the token's line to a mail: url?token=… when url is set, else the API route. */
void auth_mail_link(cn_buf_t *text, const char *url, const char *token, const char *api_route);

/** Takes auth.reset_url and auth.reset_ttl_s from the module's settings. */
void auth_reset_configure(const auth_settings_t *s);
void auth_reset_free(void);

int auth_post_reset_request(cn_req_t *r);
int auth_post_reset(cn_req_t *r);

#endif
