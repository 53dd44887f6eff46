/*
 * Opening the store as the configuration says (data directory, durability, cache sizes,
 * the metrics hook), for every part of the kernel that needs a connection of its own: the
 * server's loops and checkpointer, start-up migrations, the realtime hub's reader, the CLI.
 * The store layer cannot read the configuration itself (it sits below core/).
 */
#ifndef CAIRN_CORE_STORE_OPEN_H
#define CAIRN_CORE_STORE_OPEN_H

#include "core/config.h"
#include "store/store_int.h"

/** Opens the store as configured (data dir, durability, metrics hook). With must_exist,
 *  a missing database is an error instead of being created. */
CN_MUST_CHECK int cn_open_store(const cn_config_t *cfg, int must_exist, cn_store_t **out,
                                cn_err_t *err);

/** Opens the store as an event loop's connection: like cn_open_store, but it never
 *  checkpoints inside a commit (the server's checkpointer thread does). */
CN_MUST_CHECK int cn_open_loop_store(const cn_config_t *cfg, cn_store_t **out, cn_err_t *err);

#endif
