/*
 * Metrics (see metrics.h). Counters are updated with relaxed atomic loads and stores by
 * their single owning thread, so readers on the scrape thread see torn-free values
 * without the cost of a locked read-modify-write on the hot path.
 */
#include "core/metrics.h"
#include "core/cache.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATUS_MIN 100
#define STATUS_N 500

static const double latency_le[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                    0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5};
static const cn_hist_bounds_t latency_bounds = {latency_le, CN_ARRAY_SIZE(latency_le)};

typedef struct {
    uint64_t status[STATUS_N];
    cn_hist_t latency;
} route_stats_t;

typedef struct {
    route_stats_t *routes; /* n_routes + CN_METHOD_MAX "unmatched" slots */
    cn_hist_t store;
    uint64_t suspended; /* handlers suspended at a statement sent ahead */
    uint64_t rerun;     /* write handlers run again: a write sent ahead failed */
} slot_t;

typedef struct {
    cn_metrics_collector_fn fn;
    void *data;
} collector_t;

static struct {
    const cn_router_t *router;
    size_t n_routes, n_slots;
    slot_t *slots;
    collector_t collectors[16];
    size_t n_collectors;
    int64_t start_ms;
} metrics_state;

static _Thread_local int my_slot = -1;

static inline void bump(uint64_t *p, uint64_t by)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + by, __ATOMIC_RELAXED);
}

static inline uint64_t peek(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* The last summary: a sample sums every slot's counters (a few hundred thousand loads), so a
 * page polled by many browsers shares one per second instead of paying it per request. */
static struct {
    cn_metrics_summary_t s;
    int64_t ms; /* 0: none yet */
} last_summary;

void cn_metrics_init(const cn_router_t *router, int n_threads)
{
    cn_metrics_free();
    metrics_state.router = router;
    metrics_state.n_routes = router ? cn_router_count(router) : 0;
    metrics_state.n_slots = (size_t)n_threads + 1;
    metrics_state.slots = cn_calloc(metrics_state.n_slots, sizeof(slot_t));
    for (size_t i = 0; i < metrics_state.n_slots; i++)
        metrics_state.slots[i].routes =
            cn_calloc(metrics_state.n_routes + CN_METHOD_MAX, sizeof(route_stats_t));
    metrics_state.start_ms = cn_now_ms();
}

void cn_metrics_free(void)
{
    for (size_t i = 0; i < metrics_state.n_slots; i++)
        free(metrics_state.slots[i].routes);
    free(metrics_state.slots);
    memset(&metrics_state, 0, sizeof(metrics_state));
    last_summary.ms = 0;
}

void cn_metrics_bind_thread(int index)
{
    my_slot = index;
}

static slot_t *this_slot(void)
{
    if (metrics_state.slots == NULL)
        return NULL;
    /* threads that never bound (CLI, workers) share the spare slot; their writes are rare */
    int i = my_slot >= 0 && (size_t)my_slot < metrics_state.n_slots - 1
                ? my_slot
                : (int)metrics_state.n_slots - 1;
    return &metrics_state.slots[i];
}

static size_t bucket_of(const cn_hist_bounds_t *b, uint64_t ns)
{
    double s = (double)ns / 1e9;
    size_t i = 0;
    while (i < b->n && s > b->le[i])
        i++;
    return i;
}

void cn_hist_observe(cn_hist_t *h, const cn_hist_bounds_t *b, uint64_t ns)
{
    bump(&h->bucket[bucket_of(b, ns)], 1);
    bump(&h->sum_ns, ns);
    bump(&h->count, 1);
}

void cn_hist_observe_shared(cn_hist_t *h, const cn_hist_bounds_t *b, uint64_t ns)
{
    __atomic_fetch_add(&h->bucket[bucket_of(b, ns)], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->sum_ns, ns, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
}

void cn_hist_merge(cn_hist_t *sum, const cn_hist_t *h)
{
    for (size_t i = 0; i < CN_HIST_MAX_BUCKETS; i++)
        sum->bucket[i] += peek(&h->bucket[i]);
    sum->sum_ns += peek(&h->sum_ns);
    sum->count += peek(&h->count);
}

void cn_hist_render(cn_buf_t *out, const char *name, const char *labels, const cn_hist_bounds_t *b,
                    const cn_hist_t *h)
{
    uint64_t cum = 0;
    const char *sep = labels[0] ? "," : "";
    for (size_t i = 0; i <= b->n; i++) {
        cum += peek(&h->bucket[i]);
        if (i < b->n)
            cn_buf_appendf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, b->le[i],
                           (unsigned long long)cum);
        else
            cn_buf_appendf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                           (unsigned long long)cum);
    }
    const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
    cn_buf_appendf(out, "%s_sum%s%s%s %.9f\n%s_count%s%s%s %llu\n", name, open, labels, close,
                   (double)peek(&h->sum_ns) / 1e9, name, open, labels, close,
                   (unsigned long long)peek(&h->count));
}

void cn_metrics_request(int route_index, cn_method_t method, int status, uint64_t dur_ns)
{
    slot_t *s = this_slot();
    if (s == NULL)
        return;
    size_t r = route_index >= 0 ? (size_t)route_index : metrics_state.n_routes + (size_t)method;
    if (status >= STATUS_MIN && status < STATUS_MIN + STATUS_N)
        bump(&s->routes[r].status[status - STATUS_MIN], 1);
    cn_hist_observe(&s->routes[r].latency, &latency_bounds, dur_ns);
}

void cn_metrics_store_query(uint64_t dur_ns)
{
    slot_t *s = this_slot();
    if (s != NULL)
        cn_hist_observe(&s->store, &latency_bounds, dur_ns);
}

void cn_metrics_handler_suspended(void)
{
    slot_t *s = this_slot();
    if (s != NULL)
        bump(&s->suspended, 1);
}

void cn_metrics_writes_rerun(size_t n)
{
    slot_t *s = this_slot();
    if (s != NULL)
        bump(&s->rerun, n);
}

static void render_suspended(cn_buf_t *out)
{
    uint64_t n = 0, rerun = 0;
    for (size_t i = 0; i < metrics_state.n_slots; i++) {
        n += peek(&metrics_state.slots[i].suspended);
        rerun += peek(&metrics_state.slots[i].rerun);
    }
    cn_buf_appendf(out,
                   "# HELP cairn_handler_suspensions_total Times a read handler waited for a "
                   "statement sent ahead, its round trip shared with other requests' "
                   "(PostgreSQL).\n# TYPE cairn_handler_suspensions_total counter\n"
                   "cairn_handler_suspensions_total %llu\n"
                   "# HELP cairn_write_reruns_total Write requests run again, each waiting for "
                   "its statements, because a write sent ahead in their loop turn failed "
                   "(PostgreSQL).\n# TYPE cairn_write_reruns_total counter\n"
                   "cairn_write_reruns_total %llu\n",
                   (unsigned long long)n, (unsigned long long)rerun);
}

void cn_metrics_add_collector(cn_metrics_collector_fn fn, void *data)
{
    if (metrics_state.n_collectors < CN_ARRAY_SIZE(metrics_state.collectors))
        metrics_state.collectors[metrics_state.n_collectors++] = (collector_t){fn, data};
}

static void route_labels(size_t r, char *buf, size_t cap)
{
    if (r < metrics_state.n_routes) {
        const cn_route_t *route = cn_router_route(metrics_state.router, r);
        snprintf(buf, cap, "route=\"%s\",method=\"%s\"", route->path,
                 cn_method_name(route->method));
    } else {
        snprintf(buf, cap, "route=\"unmatched\",method=\"%s\"",
                 cn_method_name((cn_method_t)(r - metrics_state.n_routes)));
    }
}

static void sum_hist(cn_hist_t *out, const cn_hist_t *(*get)(size_t slot, size_t arg), size_t arg)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < metrics_state.n_slots; i++)
        cn_hist_merge(out, get(i, arg));
}

static const cn_hist_t *route_hist(size_t slot, size_t r)
{
    return &metrics_state.slots[slot].routes[r].latency;
}

static const cn_hist_t *store_hist(size_t slot, size_t unused)
{
    return &metrics_state.slots[slot].store;
}

static void render_requests(cn_buf_t *out)
{
    char labels[256];
    cn_buf_lit(out, "# HELP cairn_http_requests_total HTTP requests by route, method and status.\n"
                    "# TYPE cairn_http_requests_total counter\n");
    for (size_t r = 0; r < metrics_state.n_routes + CN_METHOD_MAX; r++) {
        route_labels(r, labels, sizeof(labels));
        for (size_t st = 0; st < STATUS_N; st++) {
            uint64_t n = 0;
            for (size_t i = 0; i < metrics_state.n_slots; i++)
                n += peek(&metrics_state.slots[i].routes[r].status[st]);
            if (n)
                cn_buf_appendf(out, "cairn_http_requests_total{%s,status=\"%zu\"} %llu\n", labels,
                               st + STATUS_MIN, (unsigned long long)n);
        }
    }
    cn_buf_lit(out, "# HELP cairn_http_request_duration_seconds Request latency by route.\n"
                    "# TYPE cairn_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < metrics_state.n_routes + CN_METHOD_MAX; r++) {
        cn_hist_t h;
        sum_hist(&h, route_hist, r);
        if (h.count == 0 && r >= metrics_state.n_routes)
            continue;
        route_labels(r, labels, sizeof(labels));
        cn_hist_render(out, "cairn_http_request_duration_seconds", labels, &latency_bounds, &h);
    }
}

static long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

static long read_status_field(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static void render_process(cn_buf_t *out)
{
    cn_buf_appendf(out,
                   "# HELP process_resident_memory_bytes Resident set size.\n"
                   "# TYPE process_resident_memory_bytes gauge\n"
                   "process_resident_memory_bytes %ld\n"
                   "# HELP process_open_fds Open file descriptors.\n"
                   "# TYPE process_open_fds gauge\n"
                   "process_open_fds %ld\n"
                   "# HELP process_threads OS threads in the process.\n"
                   "# TYPE process_threads gauge\n"
                   "process_threads %ld\n"
                   "# HELP process_start_time_seconds Start time since the Unix epoch.\n"
                   "# TYPE process_start_time_seconds gauge\n"
                   "process_start_time_seconds %.3f\n"
                   "# HELP cairn_build_info Build version.\n"
                   "# TYPE cairn_build_info gauge\n"
                   "cairn_build_info{version=\"%s\"} 1\n",
                   read_status_field("VmRSS") * 1024, count_fds(), read_status_field("Threads"),
                   (double)metrics_state.start_ms / 1000.0, CAIRN_VERSION);
}

void cn_metrics_render_plain(cn_buf_t *out, const cn_metric_def_t *defs, const uint64_t *values,
                             size_t n)
{
    for (size_t i = 0; i < n; i++)
        cn_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", defs[i].name, defs[i].help,
                       defs[i].name, defs[i].type, defs[i].name, (unsigned long long)values[i]);
}

/* ---- the JSON summary ---- */

#define SAMPLES 64
#define SAMPLE_EVERY_MS 1000
#define WINDOW_MS 60000

/* Totals taken when a summary was asked for: a rate and latency "lately" are the
 * difference between now and the oldest sample of the window, so the request path pays
 * nothing for them. Samples are at least a second apart, so the ring spans the window. */
typedef struct {
    int64_t ms;
    uint64_t requests, errors;
    cn_hist_t latency;
} sample_t;

static struct {
    pthread_mutex_t mu;
    sample_t ring[SAMPLES];
    size_t n, next;
} samples = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void take_sample(sample_t *x)
{
    memset(x, 0, sizeof(*x));
    x->ms = cn_now_ms();
    for (size_t r = 0; r < metrics_state.n_routes + CN_METHOD_MAX; r++)
        for (size_t i = 0; i < metrics_state.n_slots; i++) {
            const route_stats_t *rs = &metrics_state.slots[i].routes[r];
            for (size_t st = 0; st < STATUS_N; st++) {
                uint64_t n = peek(&rs->status[st]);
                x->requests += n;
                x->errors += st + STATUS_MIN >= 500 ? n : 0;
            }
            cn_hist_merge(&x->latency, &rs->latency);
        }
}

/* The q-quantile in seconds, interpolated inside its bucket as Prometheus'
 * histogram_quantile does; the largest finite bound when it falls in +Inf; -1 if empty. */
static double quantile(const cn_hist_t *h, double q)
{
    const cn_hist_bounds_t *b = &latency_bounds;
    uint64_t total = 0;
    for (size_t i = 0; i <= b->n; i++)
        total += h->bucket[i];
    if (total == 0)
        return -1;
    double rank = q * (double)total, cum = 0;
    for (size_t i = 0; i < b->n; i++) {
        double next = cum + (double)h->bucket[i];
        if (next >= rank && h->bucket[i] > 0) {
            double lo = i ? b->le[i - 1] : 0;
            return lo + (b->le[i] - lo) * (rank - cum) / (double)h->bucket[i];
        }
        cum = next;
    }
    return b->le[b->n - 1];
}

static void summarize(cn_metrics_summary_t *out);

void cn_metrics_summary(cn_metrics_summary_t *out)
{
    memset(out, 0, sizeof(*out));
    if (metrics_state.slots == NULL)
        return;
    pthread_mutex_lock(&samples.mu);
    int64_t now = cn_now_ms();
    if (last_summary.ms == 0 || now - last_summary.ms >= SAMPLE_EVERY_MS) {
        summarize(&last_summary.s);
        last_summary.ms = now;
    }
    *out = last_summary.s;
    pthread_mutex_unlock(&samples.mu);
}

/* Called with samples.mu held. */
static void summarize(cn_metrics_summary_t *out)
{
    sample_t now, base = {.ms = metrics_state.start_ms};
    take_sample(&now);
    for (size_t k = 0; k < samples.n; k++) { /* oldest first */
        const sample_t *x = &samples.ring[(samples.next + SAMPLES - samples.n + k) % SAMPLES];
        if (now.ms - x->ms <= WINDOW_MS && now.ms - x->ms >= SAMPLE_EVERY_MS) {
            base = *x;
            break;
        }
    }
    const sample_t *last = samples.n ? &samples.ring[(samples.next + SAMPLES - 1) % SAMPLES] : NULL;
    if (last == NULL || now.ms - last->ms >= SAMPLE_EVERY_MS) {
        samples.ring[samples.next] = now;
        samples.next = (samples.next + 1) % SAMPLES;
        samples.n += samples.n < SAMPLES;
    }
    cn_hist_t lately = now.latency;
    for (size_t i = 0; i < CN_HIST_MAX_BUCKETS; i++)
        lately.bucket[i] -= base.latency.bucket[i];
    out->started_ms = metrics_state.start_ms;
    out->uptime_ms = now.ms - metrics_state.start_ms;
    out->requests = now.requests;
    out->errors = now.errors;
    out->window_ms = now.ms - base.ms;
    out->window_requests = now.requests - base.requests;
    out->window_errors = now.errors - base.errors;
    out->rate = out->window_ms > 0 ? (double)out->window_requests * 1000.0 / out->window_ms : 0;
    out->p50 = quantile(&lately, 0.5);
    out->p90 = quantile(&lately, 0.9);
    out->p99 = quantile(&lately, 0.99);
}

void cn_metrics_render(cn_buf_t *out)
{
    render_requests(out);
    cn_hist_t h;
    sum_hist(&h, store_hist, 0);
    cn_buf_lit(out, "# HELP cairn_store_query_duration_seconds Store statement latency.\n"
                    "# TYPE cairn_store_query_duration_seconds histogram\n");
    cn_hist_render(out, "cairn_store_query_duration_seconds", "", &latency_bounds, &h);
    render_suspended(out);
    render_process(out);
    cn_cache_render_metrics(out);
    for (size_t i = 0; i < metrics_state.n_collectors; i++)
        metrics_state.collectors[i].fn(out, metrics_state.collectors[i].data);
}
