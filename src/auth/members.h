/*
 * Tenant administration: custom roles (named permission sets per tenant) and the
 * tenant's members (list, add, change role, remove).
 */
#ifndef CAIRN_AUTH_MEMBERS_H
#define CAIRN_AUTH_MEMBERS_H

#include "core/http.h"

extern const char auth_roles_sql[];

/**
 * 1 when the caller holds permission: API keys by their scopes, users by their role in
 * the tenant (built-in or custom), the bootstrap token always.
 */
int auth_caller_holds(cn_req_t *r, const char *permission);

/** 1 when role is built in or a custom role of tenant. */
int auth_role_exists(cn_store_t *s, const char *tenant, const char *role);

int auth_list_roles(cn_req_t *r);
int auth_post_role(cn_req_t *r);
int auth_delete_role(cn_req_t *r);
extern const cn_schema_t auth_role_schema;

int auth_list_members(cn_req_t *r);
int auth_post_member(cn_req_t *r);
int auth_patch_member(cn_req_t *r);
int auth_delete_member(cn_req_t *r);
extern const cn_schema_t auth_member_schema, auth_member_patch_schema;

int auth_get_tenant(cn_req_t *r);
int auth_patch_tenant(cn_req_t *r);
extern const cn_schema_t auth_tenant_schema;

#endif
