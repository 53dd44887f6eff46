/*
 * Tenant administration: custom roles (named permission sets per tenant) and the
 * tenant's members (list, add, change role, remove).
 */
#ifndef CAIRN_AUTH_MEMBERS_H
#define CAIRN_AUTH_MEMBERS_H

#include "core/http.h"

extern const char auth_roles_sql[];
/** Locks the tenant's row ($1) before its owners are counted (see members.c). */
extern const char auth_owners_lock_sql[];

/**
 * 1 when the caller holds permission: API keys by their scopes, users by their role in
 * the tenant (built-in or custom), the bootstrap token always.
 */
int auth_caller_holds(cn_req_t *r, const char *permission);

/** 1 when role is built in or a custom role of tenant. */
int auth_role_exists(cn_store_t *s, const char *tenant, const char *role);

int auth_list_roles(cn_req_t *r);

/** GET /api/v1/permissions: every permission of the running modules, with its description
 *  and the built-in roles holding it (what a role editor offers). */
int auth_list_permissions(cn_req_t *r);
int auth_post_role(cn_req_t *r);
int auth_delete_role(cn_req_t *r);
extern const cn_schema_t auth_role_schema;

/** Adds user to tenant with role (in the caller's unit of work); 409 when already one. */
int auth_insert_membership(cn_req_t *r, const char *tenant, const char *user, const char *role);

/** Looks up the account with e-mail (normalised): its id in user, or "" when none. */
int auth_find_account(cn_req_t *r, const char *email, char user[40]);

/** A step of auth_add_account, run in its unit of work (user/role NULL for `before`). */
typedef int (*auth_account_fn)(cn_req_t *r, const char *tenant, const char *user, const char *role);

/**
 * Creates an account for e-mail with the password in the body's password_field (checked
 * against the policy here, 422 naming the field; hashed on a worker), then in one unit of
 * work: before() (may be NULL), the user row, its membership of tenant with role, and
 * reply(), which answers. Returns CN_PENDING or an error.
 */
int auth_add_account(cn_req_t *r, const char *tenant, const char *email, const char *role,
                     const char *password_field, auth_account_fn before, auth_account_fn reply);

int auth_list_members(cn_req_t *r);
int auth_post_member(cn_req_t *r);
int auth_patch_member(cn_req_t *r);
int auth_delete_member(cn_req_t *r);
extern const cn_schema_t auth_member_schema, auth_member_patch_schema;

int auth_get_tenant(cn_req_t *r);
int auth_patch_tenant(cn_req_t *r);
extern const cn_schema_t auth_tenant_schema;

/** POST /api/v1/tenants (operator): a tenant, optionally with its first owner. */
int auth_post_tenant(cn_req_t *r);
/** GET /api/v1/tenants (operator): every tenant, paginated. */
int auth_list_tenants(cn_req_t *r);
/** GET /api/v1/tenants/{id} (operator). */
int auth_get_any_tenant(cn_req_t *r);
extern const cn_schema_t auth_new_tenant_schema;

#endif
