/*
 * Self-service registration (POST /api/v1/auth/register) and its e-mail confirmation.
 * Where the tenant requires confirmation, the request takes no password, answers the same
 * whether or not the e-mail has an account and creates nothing: it stores a pending
 * registration and a job mails a single-use link for the newest one (or, for an address
 * that is already a member, a notice), at most one mail per auth.register_mail_interval_s;
 * a mailed link retires the address's older ones. POST /api/v1/auth/register/confirm spends the
 * link with a password: the new account's, chosen then, or the existing account's own to join.
 */
#ifndef CAIRN_AUTH_REGISTER_H
#define CAIRN_AUTH_REGISTER_H

#include "auth/members.h"
#include "auth/settings.h"
#include "core/http.h"
#include "core/jobs.h"

/** Migration auth/14: the tenant setting and the registrations table. */
extern const char auth_register_migration_sql[];
/** Migration auth/16: no stored passwords in registrations; when each mail goes, and by whom. */
extern const char auth_register_mail_at_sql[];
extern const cn_schema_t auth_register_schema, auth_register_confirm_schema;

/** The mail job's type name and handler (listed in the auth module's job table). */
#define AUTH_REGISTER_JOB "auth.registration_mail"
int auth_register_mail_job(cn_job_t *job, cn_err_t *err);

/** Takes auth.register_url, auth.register_ttl_s and auth.register_mail_interval_s from the
 * module's settings. */
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

/**
 * POST /api/v1/auth/register/confirm {token, password}: a new account gets the password
 * (policy-checked, hashed on a worker) and reply answers; an existing account joins the
 * tenant when password is its own (verified on a worker, counted by the sign-in lockout).
 */
int auth_register_confirm(cn_req_t *r, auth_account_fn reply);

#endif
