/* The store opened as configured (see store_open.h). Never opens anything the
 * configuration does not name. */
#include "core/store_open.h"
#include "core/metrics.h"

static void on_store_query(uint64_t ns)
{
    cn_metrics_store_query(ns);
}

/* the configured options every connection of the server shares */
static cn_store_opts_t store_opts(const cn_config_t *cfg)
{
    return (cn_store_opts_t){.url = cfg->store_url,
                             .data_dir = cfg->data_dir,
                             .synchronous_full = cfg->synchronous_full,
                             .busy_timeout_ms = cfg->busy_timeout_ms,
                             .cache_bytes = cfg->store_cache_bytes,
                             .write_cache_bytes = cfg->store_write_cache_bytes,
                             .on_query = on_store_query};
}

int cn_open_loop_store(const cn_config_t *cfg, cn_store_t **out, cn_err_t *err)
{
    cn_store_opts_t opts = store_opts(cfg);
    opts.manual_checkpoint = 1;
    return cn_store_open(&opts, out, err);
}

int cn_open_store(const cn_config_t *cfg, int must_exist, cn_store_t **out, cn_err_t *err)
{
    cn_store_opts_t opts = store_opts(cfg);
    opts.must_exist = must_exist;
    return cn_store_open(&opts, out, err);
}
