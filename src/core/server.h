/*
 * The HTTP server: one h2o event loop per thread, all accepting on one listening socket per
 * address (no SO_REUSEPORT: no other process may join it), each with its own store
 * connection; one server per data directory (instance.h); graceful shutdown on SIGTERM/SIGINT.
 */
#ifndef CAIRN_CORE_SERVER_H
#define CAIRN_CORE_SERVER_H

#include "core/config.h"
#include "core/module.h"

#include <h2o.h>

/** Prepares the request pipeline (router and CORS allow-list). */
void cn_http_init(const cn_router_t *router, const char *cors_origins, const char *trusted_proxies);
void cn_http_free(void);

/** Creates the process-wide rate limiters (requests per minute). */
void cn_http_set_limits(int ip_per_min, int user_per_min, int auth_per_min);

/** Handles one request on the calling loop, answering it (always returns 0). */
int cn_http_handle(h2o_req_t *req, cn_store_t *store);

/**
 * Ends an event-loop turn: runs the turn's queued writes, commits the store's batch
 * transaction and sends the answers that waited for it (or 503 problems if the commit
 * failed). Returns CN_TURN_ANSWERED when it answered anything: the loop must then poll
 * again without sleeping, because h2o runs the completions of those writes (which re-arm
 * reading on keep-alive connections) only inside h2o_evloop_run. CN_TURN_WAITING: another
 * writer held the write lock, the queued writes wait for a later turn (the store's waker
 * ends the loop's poll when the lock is free; poll for at most a millisecond anyway).
 * Otherwise CN_OK. (Both values are in base/status.h.)
 */
int cn_http_end_turn(cn_store_t *store);

/**
 * Runs an offloaded request's completion done(r, arg) on its loop inside a unit of work of
 * its own, as a handler runs (kept if it answers with a success, else rolled back).
 */
void cn__http_complete(cn_req_t *r, void (*done)(cn_req_t *, void *), void *arg);

/** Releases the calling loop thread's reply buffers (before the thread exits). */
void cn_http_thread_exit(void);

/** Rewrites h2o's own error answers (413, 400) on path into problem+json. */
void cn_error_filter_register(h2o_pathconf_t *path, size_t max_body);

/**
 * Runs the server until SIGTERM/SIGINT, then drains in-flight requests for at most
 * server.shutdown_timeout_s. apps is the module table (NULL-terminated). Returns the
 * process exit code (0 after a clean shutdown).
 */
int cn_server_run(const cn_config_t *cfg, const cn_app_t *const *apps);

/** Builds the migration sets of the kernel and every app, in apply order. */
size_t cn_migration_sets(const cn_app_t *const *apps, cn_migration_set_t *out, size_t cap);

/** Opens the store as configured (data dir, durability, metrics hook). With must_exist,
 *  a missing database is an error instead of being created. */
int cn_open_store(const cn_config_t *cfg, int must_exist, cn_store_t **out, cn_err_t *err);

/** Opens the store as an event loop's connection: like cn_open_store, but it never
 *  checkpoints inside a commit (the server's checkpointer thread does). */
int cn_open_loop_store(const cn_config_t *cfg, cn_store_t **out, cn_err_t *err);

#endif
