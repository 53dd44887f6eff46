/*
 * Operator commands' access to identity data: creating and listing tenants and members,
 * and setting a member's password from the command line (for an operator who has no
 * working login). These run in the CLI process, outside any request, on a store opened
 * for the command.
 */
#ifndef CAIRN_AUTH_ADMIN_H
#define CAIRN_AUTH_ADMIN_H

#include "base/common.h"
#include "store/store.h"

#include <stdint.h>

/** One tenant as `cairn tenant list` shows it; the strings live until the callback returns. */
typedef struct {
    const char *id, *slug, *name;
    int64_t created_at; /* ms since the epoch */
} auth_tenant_row_t;

/** One member of a tenant as `cairn user list` shows it. */
typedef struct {
    const char *id, *email, *role;
    int mfa;              /* 1: a confirmed TOTP authenticator */
    int64_t locked_until; /* ms since the epoch; 0 or past: not locked */
    int64_t member_since; /* ms */
} auth_member_row_t;

/** Calls fn for every tenant, ordered by slug. */
int auth_tenants_each(cn_store_t *s, void (*fn)(const auth_tenant_row_t *, void *), void *ud,
                      cn_err_t *err);

/**
 * Calls fn for every member of the tenant with slug, ordered by e-mail. CN_ENOTFOUND when
 * there is no such tenant.
 */
int auth_members_each(cn_store_t *s, const char *slug,
                      void (*fn)(const auth_member_row_t *, void *), void *ud, cn_err_t *err);

/**
 * Sets the password of the member email of tenant slug, as the password reset does: the
 * policy is checked (CN_EINVAL with the reason), the hash is argon2id, and in one unit of
 * work the hash is stored, unused reset tokens are voided, every session of the account
 * in every tenant is revoked (*n_sessions of them) and an audit entry
 * `auth.password.set_by_operator` is appended. CN_ENOTFOUND when there is no such tenant
 * or member.
 */
int auth_user_set_password(cn_store_t *s, const char *slug, const char *email, const char *password,
                           int64_t *n_sessions, cn_err_t *err);

/**
 * cairn user unlock: clears the sign-in lockout of slug + email from every client, and
 * records it in the audit log (actor operator). *n_rows: the lockout rows removed.
 */
int auth_user_unlock(cn_store_t *s, const char *slug, const char *email, int64_t *n_rows,
                     cn_err_t *err);

/** CLI: creates a tenant. Writes its id to id_out. CN_ECONFLICT when the slug exists. */
int auth_tenant_create(cn_store_t *s, const char *slug, const char *name, char id_out[40],
                       cn_err_t *err);

/**
 * CLI: creates a user (or finds the existing one with that e-mail) and gives it role in
 * the tenant with slug. The password must pass the policy. CN_ECONFLICT when the user is
 * already a member of that tenant.
 */
int auth_user_create(cn_store_t *s, const char *tenant_slug, const char *email, const char *role,
                     const char *password, char id_out[40], cn_err_t *err);

#endif
