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

/** The modules the server runs (system first; NULL-terminated), after cn_system_init. */
const cn_app_t *const *cn_system_modules(void);

/** Builds the OpenAPI 3.1 document for the given modules. New reference. */
json_t *cn_openapi_build(const cn_app_t *const *modules);

/** Adds every module's routes to router and checks their permissions are declared. */
int cn_register_routes(cn_router_t *router, const cn_app_t *const *modules, cn_err_t *err);

#endif
