/*
 * Role-based access: which built-in role grants which permission. Pure functions.
 *   owner, admin  every tenant permission
 *   member        every permission except "*.manage"
 *   viewer        "*.read" only
 * Every role also holds the "self.*" permissions (a caller's own profile and sessions);
 * none holds "platform.*" (above every tenant: the operator's token only).
 */
#ifndef CAIRN_AUTH_RBAC_H
#define CAIRN_AUTH_RBAC_H

/** 1 when role is one of the built-in roles. */
int auth_role_valid(const char *role);

/** 1 when role grants permission. Unknown roles grant nothing. */
int auth_role_allows(const char *role, const char *permission);

#endif
