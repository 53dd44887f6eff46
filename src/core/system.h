/*
 * The kernel's own endpoints and start-up assembly: health, readiness, metrics, the
 * OpenAPI document, and the checks that tie modules together (routes compile, declared
 * permissions exist, migrations are current).
 */
#ifndef CAIRN_CORE_SYSTEM_H
#define CAIRN_CORE_SYSTEM_H

#include "core/config.h"
#include "core/json.h"
#include "core/module.h"

struct st_cn_migration_set_t; /* store/store_int.h: the kernel's, not a module's */

/**
 * Indexes every module's permissions with their built-in roles (core/permissions.h), adds
 * the system routes and every app's routes to router, checks that each route's
 * permission is declared by its module, collects migration sets and renders the OpenAPI
 * document. Then opens the store once to apply or verify migrations.
 */
int cn_system_init(const cn_config_t *cfg, const cn_app_t *const *apps, cn_router_t *router,
                   cn_err_t *err);
void cn_system_free(void);

/** Releases the calling thread's /metrics buffer. */
void cn_system_thread_exit(void);

/** The most modules a binary runs: the system module and every app of the table. */
#define CN_MODULES_MAX 32

/**
 * The one list of modules the kernel works with: the system module, then apps (the app
 * table, NULL-terminated), into out (NULL-terminated). Returns 0, or CN_EINVAL with err
 * set (and out empty) when there are more than CN_MODULES_MAX: a module is never dropped
 * silently. Start-up and the CLI's migration commands both build it here.
 */
int cn_modules_list(const cn_app_t *const *apps, const cn_app_t *out[CN_MODULES_MAX + 1],
                    cn_err_t *err);

/** The migration sets of modules (a list from cn_modules_list) in apply order, into out
 *  (room for CN_MODULES_MAX); returns how many. */
size_t cn_migration_sets(const cn_app_t *const *modules, struct st_cn_migration_set_t *out);

/** The modules the server runs (system first; NULL-terminated), after cn_system_init. */
const cn_app_t *const *cn_system_modules(void);

/** Builds the OpenAPI 3.1 document for the given modules. New reference. */
json_t *cn_openapi_build(const cn_app_t *const *modules);

/** Adds every module's routes to router and checks their permissions are declared. */
int cn_register_routes(cn_router_t *router, const cn_app_t *const *modules, cn_err_t *err);

#endif
