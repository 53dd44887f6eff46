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

/**
 * Runs the server until SIGTERM/SIGINT, then drains in-flight requests for at most
 * server.shutdown_timeout_s. apps is the module table (NULL-terminated). Returns the
 * process exit code (0 after a clean shutdown).
 */
int cn_server_run(const cn_config_t *cfg, const cn_app_t *const *apps);

#endif
