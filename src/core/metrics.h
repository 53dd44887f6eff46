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
/** Counts a read handler suspended at a statement sent ahead (cn_store_suspends). */
void cn_metrics_handler_suspended(void);
/** Counts n write requests run again because a write sent ahead failed in their turn. */
void cn_metrics_writes_rerun(size_t n);

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

/** Most buckets a histogram holds, the +Inf bucket included. */
#define CN_HIST_MAX_BUCKETS 20

/** The upper bounds in seconds (ascending) of a histogram's finite buckets; +Inf is implied,
 * so n < CN_HIST_MAX_BUCKETS. Static data, shared by every histogram of one series. */
typedef struct st_cn_hist_bounds_t {
    const double *le;
    size_t n;
} cn_hist_bounds_t;

/** A Prometheus histogram of durations: a count per bucket (not cumulative), sum, count. */
typedef struct st_cn_hist_t {
    uint64_t bucket[CN_HIST_MAX_BUCKETS];
    uint64_t sum_ns, count;
} cn_hist_t;

/** Records ns in h, written by one thread only (relaxed loads and stores, no locked add). */
void cn_hist_observe(cn_hist_t *h, const cn_hist_bounds_t *b, uint64_t ns);

/** Records ns in h, written by several threads (relaxed atomic adds). */
void cn_hist_observe_shared(cn_hist_t *h, const cn_hist_bounds_t *b, uint64_t ns);

/** Adds h (read with relaxed loads while others write it) into sum. */
void cn_hist_merge(cn_hist_t *sum, const cn_hist_t *h);

/**
 * Appends the _bucket (cumulative), _sum and _count lines of one labelled histogram;
 * labels is "" or 'k="v",...' without braces. h is read with relaxed loads.
 */
void cn_hist_render(cn_buf_t *out, const char *name, const char *labels, const cn_hist_bounds_t *b,
                    const cn_hist_t *h);

/** Key numbers for a JSON status page, over every route (unmatched requests included). */
typedef struct st_cn_metrics_summary_t {
    int64_t started_ms, uptime_ms;
    uint64_t requests, errors; /* since start; errors: 5xx answers */
    /* the window: since the oldest summary asked for in the last minute (at least a second
     * ago), or since start */
    int64_t window_ms;
    uint64_t window_requests, window_errors;
    double rate;          /* requests per second over the window */
    double p50, p90, p99; /* latency quantiles over the window, seconds; -1 without requests */
} cn_metrics_summary_t;
/** Fills out from the counters the scrape reads (no cost on the request path). */
void cn_metrics_summary(cn_metrics_summary_t *out);
/** Renders the whole exposition (text format 0.0.4). */
void cn_metrics_render(cn_buf_t *out);

#endif
