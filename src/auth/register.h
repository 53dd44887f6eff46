/*
 * Self-service registration (POST /api/v1/auth/register) and its e-mail confirmation.
 * Where the tenant requires confirmation, the request answers the same whether or not
 * the e-mail has an account and creates nothing: it keeps the password's argon2id hash in
 * a pending registration and a job mails a single-use link (or, for an address that is
 * already a member, a notice). POST /api/v1/auth/register/confirm spends the link.
 */
#ifndef CAIRN_AUTH_REGISTER_H
#define CAIRN_AUTH_REGISTER_H

#include "auth/members.h"
#include "auth/settings.h"
#include "core/http.h"
#include "core/jobs.h"

/** Migration auth/14: the tenant setting and the registrations table. */
extern const char auth_register_migration_sql[];
extern const cn_schema_t auth_register_schema, auth_register_confirm_schema;

/** The mail job's type name and handler (listed in the auth module's job table). */
#define AUTH_REGISTER_JOB "auth.registration_mail"
int auth_register_mail_job(cn_job_t *job, cn_err_t *err);

/** Takes auth.register_url and auth.register_ttl_s from the module's settings. */
void auth_register_configure(const auth_settings_t *s);
void auth_register_free(void);

/**
 * 1 when registrations in a tenant need confirming: the tenant's setting when it has one
 * (is_null 0), else whether this server can send mail (mail.smtp_url is set).
 */
int auth_registration_confirms(int is_null, int64_t setting);

/**
 * POST /api/v1/auth/register. reply(r, tenant, user, role) answers once an account was
 * created at once (confirmation off), inside the unit of work that created it.
 */
int auth_register(cn_req_t *r, auth_account_fn reply);

/** POST /api/v1/auth/register/confirm; reply as for auth_register (a new account). */
int auth_register_confirm(cn_req_t *r, auth_account_fn reply);

#endif
