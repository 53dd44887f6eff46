/*
 * Password reset by e-mail: POST /api/v1/auth/password/reset-request mails a single-use
 * token (through the job queue and cn_mail_send), POST /api/v1/auth/password/reset spends
 * it on a new password, ends every session of the account and clears its sign-in lockout.
 */
#ifndef CAIRN_AUTH_RESET_H
#define CAIRN_AUTH_RESET_H

#include "core/http.h"
#include "core/jobs.h"

/** The password_resets table (migration auth/12). */
extern const char auth_reset_migration_sql[];
extern const cn_schema_t auth_reset_request_schema;
extern const cn_schema_t auth_reset_schema;
extern const cn_job_type_t auth_reset_jobs[];

void auth_reset_configure(const cn_config_t *cfg);
void auth_reset_free(void);

int auth_post_reset_request(cn_req_t *r);
int auth_post_reset(cn_req_t *r);

#endif
