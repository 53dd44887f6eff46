/*
 * Role-based access: which built-in role grants which permission. The answer is what the
 * permission's module declares (cn_permission_t.roles, indexed at start-up by
 * core/permissions.c); nothing is inferred from the permission's name. As declared today:
 *   owner, admin  every tenant permission
 *   member        every permission except the "*.manage" ones
 *   viewer        the "*.read" ones
 * Every role also holds the "self.*" permissions (a caller's own profile and sessions);
 * none holds "platform.*" (above every tenant: the operator's token only).
 */
#ifndef CAIRN_AUTH_RBAC_H
#define CAIRN_AUTH_RBAC_H

/** 1 when role is one of the built-in roles. */
int auth_role_valid(const char *role);

/** 1 when the built-in role holds permission by its module's declaration. Unknown roles
 *  and permissions no running module declares grant nothing. */
int auth_role_allows(const char *role, const char *permission);

#endif
