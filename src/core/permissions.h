/*
 * The permission index: every permission the running modules declare, with the built-in
 * roles that hold it (cn_permission_t.roles). Built once at start-up from the module
 * tables, read-only afterwards, so lookups from every loop thread need no lock. It refuses
 * a declaration without roles, a permission declared twice and a channel whose permission
 * nobody declares; it never decides a grant itself (auth/rbac.c does, from these bits).
 */
#ifndef CAIRN_CORE_PERMISSIONS_H
#define CAIRN_CORE_PERMISSIONS_H

#include "core/module.h"

/**
 * Indexes the permissions of modules (NULL-terminated), replacing any previous index.
 * CN_EINVAL with a message naming the module and the permission when one declares no
 * roles (0), mixes CN_ROLE_NONE with roles or unknown bits, is declared by two modules,
 * or when a channel needs a permission no module declares; the old index then stays.
 */
int cn_permissions_build(const cn_app_t *const *modules, cn_err_t *err);

/** Releases the index (lookups then find nothing). */
void cn_permissions_free(void);

/** The CN_ROLE_* bits declared for permission; 0 when no running module declares it. */
unsigned cn_permission_roles(const char *permission);

/** 1 when some module of the running server declares permission. */
int cn_permission_exists(const char *permission);

/** The built-in role names in bit order (owner, admin, member, viewer); NULL-terminated.
 *  cn_role_names[i] is the role of bit 1u << i. */
extern const char *const cn_role_names[];

#endif
