/*
 * Prometheus metrics. Each thread owns a slot of counters and writes only its own slot
 * (no locks, no contended cache lines on the request path); a scrape sums the slots.
 * Modules add their own series through collectors called at scrape time.
 */
#ifndef CAIRN_CORE_METRICS_H
#define CAIRN_CORE_METRICS_H

#include "core/json.h"
#include "core/router.h"

/** Prepares slots for n_threads loop threads plus one for everything else. */
void cn_metrics_init(const cn_router_t *router, int n_threads);
void cn_metrics_free(void);

/** Binds the calling thread to slot index (loop threads: 0..n-1). Others use the spare. */
void cn_metrics_bind_thread(int index);

/**
 * Records a finished request. route_index is the router index, or -1 when no route
 * matched (then counted under route "unmatched" and the request's method).
 */
void cn_metrics_request(int route_index, cn_method_t method, int status, uint64_t dur_ns);

/** Records one store statement's latency. */
void cn_metrics_store_query(uint64_t dur_ns);

/** A scrape-time callback appending Prometheus text for a module's own series. */
typedef void (*cn_metrics_collector_fn)(cn_buf_t *out, void *data);
void cn_metrics_add_collector(cn_metrics_collector_fn fn, void *data);

/** One unlabelled series: "counter" or "gauge", and its help line. */
typedef struct st_cn_metric_def_t {
    const char *name, *type, *help;
} cn_metric_def_t;

/** Appends n unlabelled series with their HELP and TYPE lines (collectors use it). */
void cn_metrics_render_plain(cn_buf_t *out, const cn_metric_def_t *defs, const uint64_t *values,
                             size_t n);

/** Renders the whole exposition (text format 0.0.4). */
void cn_metrics_render(cn_buf_t *out);

#endif
