/*
 * The module contract. An app (or a kernel subsystem) is one static cn_app_t: a name, its
 * migrations, its route table, the permissions and the configuration keys it declares.
 * The server, `cairn migrate`, `cairn config`, the OpenAPI document and the authorisation
 * tests all read these tables; nothing keeps a second list by hand.
 */
#ifndef CAIRN_CORE_MODULE_H
#define CAIRN_CORE_MODULE_H

#include "core/config.h"
#include "core/events.h"
#include "core/jobs.h"
#include "core/metrics.h"
#include "core/router.h"
#include "store/store.h"

/**
 * The built-in roles, as bits of cn_permission_t.roles. Which role holds a permission is
 * declared by the module, never inferred from the permission's name. CN_ROLE_NONE says
 * "no built-in role holds it" (platform permissions: the operator's token only); it is
 * distinct from 0, which means the module forgot to say, and the server refuses to start.
 */
enum {
    CN_ROLE_OWNER = 1u << 0,
    CN_ROLE_ADMIN = 1u << 1,
    CN_ROLE_MEMBER = 1u << 2,
    CN_ROLE_VIEWER = 1u << 3,
    CN_ROLE_NONE = 1u << 4, /* alone: no built-in role */
};

/** Owners and admins: administrative permissions ("*.manage" by convention). */
#define CN_ROLES_ADMINS (CN_ROLE_OWNER | CN_ROLE_ADMIN)
/** Owners, admins and members: everything but administration ("*.write"). */
#define CN_ROLES_MEMBERS (CN_ROLES_ADMINS | CN_ROLE_MEMBER)
/** Every built-in role, viewers included ("*.read", "self.*"). */
#define CN_ROLES_ALL (CN_ROLES_MEMBERS | CN_ROLE_VIEWER)

/** A permission string a module declares ("notes.read"), with a line for humans and the
 *  built-in roles that hold it (CN_ROLE_* bits, or CN_ROLE_NONE; never 0). Custom roles
 *  hold what their own list names; the operator's token holds everything. */
typedef struct st_cn_permission_t {
    const char *name; /* NULL terminates a list */
    const char *description;
    unsigned roles; /* CN_ROLE_* bits; 0 (undeclared) stops the server at start */
} cn_permission_t;

/** A realtime channel family a module publishes on, and who may subscribe to it. */
typedef struct st_cn_channel_t {
    const char *prefix;     /* "notes": the channel "notes" and "notes:<name>"; NULL ends */
    const char *permission; /* the subscriber needs it in the channel's tenant */
    const char *description;
} cn_channel_t;

/** An event subscription (see events.h): fn runs for committed events of the prefix. */
typedef struct st_cn_subscription_t {
    const char *type_prefix; /* NULL ends a list */
    cn_event_fn fn;
} cn_subscription_t;

typedef struct st_cn_app_t {
    const char *name; /* module name; also its migration namespace */
    const char *description;
    const cn_migration_t *migrations;       /* ends with version 0; may be NULL */
    const cn_route_t *routes;               /* ends with path NULL; may be NULL */
    const cn_permission_t *permissions;     /* ends with name NULL; may be NULL */
    const cn_job_type_t *jobs;              /* ends with name NULL; may be NULL */
    const cn_channel_t *channels;           /* ends with prefix NULL; may be NULL */
    const cn_subscription_t *subscriptions; /* ends with type_prefix NULL; may be NULL */
    /** The module's configuration keys (ends with key NULL; may be NULL): loaded, validated
     *  and listed with the kernel's (config.h); the rows fill the module's own struct,
     *  which its start hook reads. */
    const cn_setting_t *settings;
    /** Called once by `cairn serve` after migrations, with a store connection it may use
     *  only during the call (load caches, install hooks). May be NULL. */
    int (*start)(const cn_config_t *cfg, cn_store_t *store, cn_err_t *err);
    /** Called once at shutdown, after the loops have stopped. May be NULL. */
    void (*stop)(void);
    /** Appends the module's series to GET /metrics (Prometheus text). May be NULL. */
    cn_metrics_collector_fn metrics;
} cn_app_t;

/** The kernel's own module: /healthz, /readyz, /metrics, /api/openapi.json. */
extern const cn_app_t cn_system_app;

#endif
