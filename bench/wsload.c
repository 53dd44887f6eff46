/*
 * wsload: a WebSocket load generator for Cairn's realtime hub (GET /api/v1/realtime) and,
 * speaking Engine.IO v4 / Socket.IO v5 over the websocket transport, for a Socket.IO server
 * (bench/socketio/server.mjs), so that one client measures both. See bench/README.md.
 *
 *   wsload --mode hold --url ws://127.0.0.1:P/api/v1/realtime --token T --conns 10000
 *          --duration 10 [--server-pid PID]
 *   wsload --mode fanout --conns 1000 --publish-rate 100 --duration 20
 *          --publish-url http://127.0.0.1:P/api/v1/notes ...
 *   wsload --mode saturate --conns 1000 --rates 100,200,400,800 --step-duration 6 ...
 *   (--proto socketio, --url ws://127.0.0.1:P/socket.io/?EIO=4&transport=websocket)
 *
 * --url may be given several times (the nodes of a cluster, say): subscriber connection i
 * goes to URL i mod n, so the spread is exact, and the fan-out report adds each URL's
 * deliveries, losses and latency. --server-pid may be given several times (summed), and
 * --aux-pid names processes whose CPU is shown apart rather than counted as noise.
 *
 * Subscriber connections run on --threads epoll loops (default 1); the publisher (HTTP/1.1
 * keep-alive POSTs, optionally pipelined) and the measurement clock run on the main thread.
 * Each publish carries "wsl <step> <counter> <CLOCK_MONOTONIC ns at write>" as its title;
 * a subscriber parses it from the delivered event (strstr on the "seq" and "title" keys,
 * no JSON library on the hot path) and records publish -> delivery latency, per-connection
 * seq gaps and reorders, and per-publish delivery counts (losses).
 *
 * It must never connect anywhere but the loopback network (127.0.0.0/8): it refuses other
 * addresses. Every loop is bounded in count and time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#define MAX_STEPS 32 /* step 0 is the warm-up */
#define MAX_THREADS 8
#define MAX_PUBLISHERS 64
#define MAX_URLS 8  /* subscriber targets */
#define MAX_PIDS 64 /* --server-pid, --aux-pid */
#define MAX_PIPELINE 256
#define HS_BUF 2048 /* upgrade request, then the 101 answer */
#define PUB_IN_BUF 65536
#define MAX_PUBLISHES 2000000 /* bounds every publish loop */
#define MAX_SECONDS 3600      /* timeline length */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
/* single-writer counters: only the owning thread increments them, others read */
#define INC(x) STORE(x, (x) + 1)
#define ADD(x, n) STORE(x, (x) + (n))

/* ------------------------------------------------------------------ options */

enum { PROTO_CAIRN, PROTO_SOCKETIO };
enum { MODE_HOLD, MODE_FANOUT, MODE_SATURATE };

static struct {
    int proto, mode;
    struct sockaddr_in ws_addr[MAX_URLS], pub_addr;
    char ws_host[MAX_URLS][64], ws_path[MAX_URLS][512], pub_host[64], pub_path[512];
    const char *ws_url[MAX_URLS];
    int n_urls;
    int have_pub;
    const char *token, *channel;
    int conns, threads, ramp, publishers, pipeline, body_bytes;
    double duration, warmup, step_duration, drain, connect_timeout;
    double rates[MAX_STEPS];
    int n_rates;
    int server_pids[MAX_PIDS], n_server_pids, aux_pids[MAX_PIDS], n_aux_pids;
    double stop_p99_ms, stop_ratio;
    int verbose, timeline;
} O = {
    .proto = PROTO_CAIRN,
    .mode = MODE_HOLD,
    .token = "bench-token",
    .channel = "notes",
    .conns = 1000,
    .threads = 1,
    .ramp = 256,
    .publishers = 1,
    .pipeline = 32,
    .duration = 10,
    .warmup = 2,
    .step_duration = 6,
    .drain = 3,
    .connect_timeout = 60,
    .stop_p99_ms = 500,
    .stop_ratio = 0.9,
};

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "wsload: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p == NULL)
        die("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* scheme://host:port/path with a numeric loopback host (or "localhost"). */
static void parse_url(const char *url, const char *scheme, struct sockaddr_in *addr, char *host,
                      size_t host_size, char *path, size_t path_size)
{
    size_t sl = strlen(scheme);
    if (strncmp(url, scheme, sl) != 0 || strncmp(url + sl, "://", 3) != 0)
        die("%s: expected a %s:// URL", url, scheme);
    const char *h = url + sl + 3, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    if (hl == 0 || hl >= host_size)
        die("%s: bad host", url);
    memcpy(host, h, hl);
    host[hl] = '\0';
    snprintf(path, path_size, "%s", slash ? slash : "/");
    char name[64];
    snprintf(name, sizeof(name), "%s", host);
    char *colon = strrchr(name, ':');
    if (colon == NULL)
        die("%s: the port is required", url);
    *colon = '\0';
    long port = strtol(colon + 1, NULL, 10);
    if (port <= 0 || port > 65535)
        die("%s: bad port", url);
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (strcmp(name, "localhost") == 0)
        snprintf(name, sizeof(name), "127.0.0.1");
    if (inet_pton(AF_INET, name, &addr->sin_addr) != 1)
        die("%s: the host must be a numeric IPv4 address", url);
    if ((ntohl(addr->sin_addr.s_addr) >> 24) != 127)
        die("%s: wsload only loads servers on the loopback network (127.0.0.0/8)", url);
}

/* ------------------------------------------------------------------ histogram */

/*
 * Log-linear buckets over microseconds, HdrHistogram-like: values below 256 are exact,
 * above that each power of two is split into 128 buckets (< 0.8 % error).
 */
#define H_SUB 128
#define H_BUCKETS (2 * H_SUB + 40 * H_SUB)

typedef struct {
    uint64_t b[H_BUCKETS];
    uint64_t count, max, sum;
} hist_t;

static int hist_index(uint64_t v)
{
    if (v < 2 * H_SUB)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int e = msb - 7; /* v >> e in [128, 255] */
    int i = 2 * H_SUB + (e - 1) * H_SUB + (int)((v >> e) - H_SUB);
    return i < H_BUCKETS ? i : H_BUCKETS - 1;
}

static uint64_t hist_value(int i) /* the middle of bucket i */
{
    if (i < 2 * H_SUB)
        return (uint64_t)i;
    int e = (i - 2 * H_SUB) / H_SUB + 1;
    uint64_t m = (uint64_t)((i - 2 * H_SUB) % H_SUB + H_SUB);
    return (m << e) + (((uint64_t)1 << e) >> 1);
}

static void hist_add(hist_t *h, uint64_t v)
{
    int i = hist_index(v);
    INC(h->b[i]);
    INC(h->count);
    ADD(h->sum, v);
    if (v > h->max)
        STORE(h->max, v);
}

static void hist_merge(hist_t *into, const hist_t *from)
{
    for (int i = 0; i < H_BUCKETS; i++)
        into->b[i] += LOAD(from->b[i]);
    into->count += LOAD(from->count);
    into->sum += LOAD(from->sum);
    uint64_t m = LOAD(from->max);
    if (m > into->max)
        into->max = m;
}

static double hist_pct_ms(const hist_t *h, double pct)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(pct / 100.0 * (double)h->count + 0.5), seen = 0;
    if (rank == 0)
        rank = 1;
    for (int i = 0; i < H_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = hist_value(i);
            return (double)(v < h->max ? v : h->max) / 1000.0;
        }
    }
    return (double)h->max / 1000.0;
}

/* ------------------------------------------------------------------ shared state */

enum { PH_CONNECT, PH_RUN, PH_STOP };
static int g_phase = PH_CONNECT;
static volatile sig_atomic_t g_interrupted;

/* per publish counter: how many subscribers received it (atomic: several threads) and
 * whether the server acknowledged it (written by the publisher only) */
static uint16_t *g_delivered;
static uint8_t *g_acked;
/* per publish: latency of its first and last delivery (us), to tell the time to the first
 * subscriber (publish, commit, dispatch) from the fan-out spread */
static uint32_t *g_first_us, *g_last_us;
static int64_t g_run_t0; /* start of publishing: second 0 of the timeline */

enum {
    C_FREE,
    C_CONNECTING, /* TCP connect in progress */
    C_HS_SEND,    /* writing the upgrade request */
    C_HS_RECV,    /* reading the 101 answer */
    C_WAIT_READY, /* cairn: waiting for {"op":"ready"}; socketio: for the open packet */
    C_WAIT_NS,    /* socketio: "40" sent, waiting for "40{...}" */
    C_WAIT_SUB,   /* subscribe sent */
    C_SUBSCRIBED,
    C_CLOSED,
};

typedef struct {
    char buf[HS_BUF];
    size_t len, off;
    char accept[32];
} hs_t;

struct worker;

typedef struct {
    int fd;
    uint8_t state;
    uint8_t out_registered;
    uint8_t drained; /* the last recv() was short: the socket is empty until epoll says so */
    uint16_t close_code;
    uint8_t target; /* index into O.ws_* */
    struct worker *w;
    wslay_event_context_ptr ws;
    hs_t *hs; /* owned; during the handshake, then the bytes that followed the 101 answer */
    int64_t t_start, last_seq;
} conn_t;

typedef struct {
    uint16_t code;
    uint64_t count;
} code_count_t;

typedef struct worker {
    pthread_t tid;
    int idx, epfd;
    conn_t *conns; /* owned */
    int n_conns, next, inflight;
    uint64_t xs; /* xorshift state for masking keys */
    /* counters: written by this thread only */
    uint64_t subscribed, connect_errors, handshake_errors, subscribe_errors, timeouts;
    uint64_t disconnects, closed_by_server, deliveries, other_msgs, gaps, reorders, resyncs;
    uint64_t pings;
    code_count_t codes[8];
    char first_error[200];
    hist_t connect_hist;       /* connect start -> subscribed */
    hist_t lat[MAX_STEPS];     /* publish write -> delivery */
    hist_t gen_lat[MAX_STEPS]; /* of which inside wsload: epoll_wait's return -> parsed */
    int64_t batch_t;           /* when the current epoll_wait returned */
    uint64_t step_deliveries[MAX_STEPS];
    uint32_t sec_max_us[MAX_SECONDS]; /* timeline: worst delivery latency per second */
    uint32_t sec_count[MAX_SECONDS];
    /* per target URL: connections subscribed now, and the measured steps' deliveries */
    uint64_t t_subscribed[MAX_URLS], t_deliveries[MAX_URLS];
    hist_t t_lat[MAX_URLS];
} worker_t;

static worker_t g_workers[MAX_THREADS];

static void worker_error(worker_t *w, const char *fmt, ...)
{
    if (w->first_error[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->first_error, sizeof(w->first_error), fmt, ap);
    va_end(ap);
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* ------------------------------------------------------------------ connections */

static void conn_close(conn_t *c, int counted_as_disconnect)
{
    worker_t *w = c->w;
    if (c->state == C_FREE || c->state == C_CLOSED)
        return;
    if (c->state != C_SUBSCRIBED)
        w->inflight--;
    else if (counted_as_disconnect && LOAD(g_phase) != PH_STOP) {
        INC(w->disconnects);
        if (w->subscribed > 0)
            STORE(w->subscribed, w->subscribed - 1);
        if (w->t_subscribed[c->target] > 0)
            STORE(w->t_subscribed[c->target], w->t_subscribed[c->target] - 1);
    }
    if (c->close_code != 0) {
        for (int i = 0; i < 8; i++) {
            if (w->codes[i].code == c->close_code || w->codes[i].code == 0) {
                w->codes[i].code = c->close_code;
                w->codes[i].count++;
                break;
            }
        }
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->ws != NULL)
        wslay_event_context_free(c->ws);
    c->ws = NULL;
    free(c->hs);
    c->hs = NULL;
    c->state = C_CLOSED;
}

static void conn_want_out(conn_t *c, int on)
{
    if (c->out_registered == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->out_registered = (uint8_t)on;
}

static void ws_queue_text(conn_t *c, const char *text, size_t len)
{
    struct wslay_event_msg msg = {WSLAY_TEXT_FRAME, (const uint8_t *)text, len};
    wslay_event_queue_msg(c->ws, &msg);
}

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *ud)
{
    conn_t *c = ud;
    if (c->hs != NULL) { /* frames that arrived together with the 101 answer */
        size_t n = c->hs->len - c->hs->off;
        if (n > len)
            n = len;
        memcpy(buf, c->hs->buf + c->hs->off, n);
        c->hs->off += n;
        if (c->hs->off == c->hs->len) {
            free(c->hs);
            c->hs = NULL;
        }
        return (ssize_t)n;
    }
    /* A short read emptied the socket: skip the recv() that would only say EAGAIN (epoll is
     * level-triggered, so bytes that arrive meanwhile wake us again). Halves the syscalls. */
    ssize_t r = c->drained ? -1 : recv(c->fd, buf, len, 0);
    if (r > 0) {
        c->drained = (size_t)r < len;
        return r;
    }
    if (c->drained || (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE); /* EOF or error */
    return -1;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                          void *ud)
{
    conn_t *c = ud;
    ssize_t r = send(c->fd, data, len, MSG_NOSIGNAL | ((flags & WSLAY_MSG_MORE) ? MSG_MORE : 0));
    if (r >= 0)
        return r;
    wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK
                                   ? WSLAY_ERR_WOULDBLOCK
                                   : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static int ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    conn_t *c = ud;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t r = xorshift(&c->w->xs);
        memcpy(buf + i, &r, len - i < 8 ? len - i : 8);
    }
    return 0;
}

/* The value after the first `"key":` in [p, p+len), whitespace skipped; NULL if absent. */
static const char *json_find(const char *p, size_t len, const char *key)
{
    char pat[40];
    int pl = snprintf(pat, sizeof(pat), "\"%s\"", key);
    const char *end = p + len, *q = memmem(p, len, pat, (size_t)pl);
    if (q == NULL)
        return NULL;
    q += pl;
    while (q < end && (*q == ' ' || *q == ':'))
        q++;
    return q < end ? q : NULL;
}

static int json_str_is(const char *v, const char *end, const char *s)
{
    size_t n = strlen(s);
    return v != NULL && v + n + 2 <= end && v[0] == '"' && memcmp(v + 1, s, n) == 0 &&
           v[n + 1] == '"';
}

static int64_t json_int(const char *v, const char *end, int64_t dflt)
{
    if (v == NULL || v >= end || !(*v == '-' || (*v >= '0' && *v <= '9')))
        return dflt;
    return strtoll(v, NULL, 10); /* messages end in '}' or ']', so strtoll stops in bounds */
}

/* A delivered event (the object {op, channel, seq, ..., data: {title, ...}}). */
static void on_event(conn_t *c, const char *p, size_t len, int64_t t)
{
    worker_t *w = c->w;
    const char *end = p + len;
    int64_t seq = json_int(json_find(p, len, "seq"), end, -1);
    if (seq >= 0) {
        if (c->last_seq >= 0) {
            if (seq > c->last_seq + 1)
                ADD(w->gaps, (uint64_t)(seq - c->last_seq - 1));
            else if (seq <= c->last_seq)
                INC(w->reorders);
        }
        if (seq > c->last_seq)
            c->last_seq = seq;
    }
    const char *title = json_find(p, len, "title");
    if (title == NULL || end - title < 6 || memcmp(title, "\"wsl ", 5) != 0) {
        INC(w->other_msgs);
        return;
    }
    char *q;
    long step = strtol(title + 5, &q, 10);
    unsigned long long ctr = strtoull(q, &q, 10);
    long long sent = strtoll(q, &q, 10);
    if (step < 0 || step >= MAX_STEPS || ctr >= MAX_PUBLISHES || sent <= 0) {
        INC(w->other_msgs);
        return;
    }
    INC(w->deliveries);
    INC(w->step_deliveries[step]);
    __atomic_fetch_add(&g_delivered[ctr], 1, __ATOMIC_RELAXED);
    uint64_t us = t > sent ? (uint64_t)(t - sent) / 1000 : 0;
    hist_add(&w->lat[step], us);
    hist_add(&w->gen_lat[step], t > w->batch_t ? (uint64_t)(t - w->batch_t) / 1000 : 0);
    if (step > 0) { /* the warm-up is not measured */
        INC(w->t_deliveries[c->target]);
        hist_add(&w->t_lat[c->target], us);
    }
    uint32_t us32 = us > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)us + 1; /* 0: none yet */
    uint32_t cur = LOAD(g_first_us[ctr]);
    while ((cur == 0 || us32 < cur) &&
           !__atomic_compare_exchange_n(&g_first_us[ctr], &cur, us32, 1, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
    }
    cur = LOAD(g_last_us[ctr]);
    while (us32 > cur && !__atomic_compare_exchange_n(&g_last_us[ctr], &cur, us32, 1,
                                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    int64_t sec = (t - LOAD(g_run_t0)) / 1000000000;
    if (sec >= 0 && sec < MAX_SECONDS) {
        INC(w->sec_count[sec]);
        if (us32 > w->sec_max_us[sec])
            STORE(w->sec_max_us[sec], us32);
    }
}

static void subscribed(conn_t *c, const char *p, size_t len)
{
    c->last_seq = json_int(json_find(p, len, "seq"), p + len, -1);
    c->state = C_SUBSCRIBED;
    c->w->inflight--;
    INC(c->w->subscribed);
    INC(c->w->t_subscribed[c->target]);
    hist_add(&c->w->connect_hist, (uint64_t)(now_ns() - c->t_start) / 1000);
}

static void sub_error(conn_t *c, const char *what, const char *p, size_t len)
{
    worker_error(c->w, "%s: %.*s", what, (int)(len > 150 ? 150 : len), p);
    wslay_event_queue_close(c->ws, 1000, NULL, 0);
}

static void on_cairn_msg(conn_t *c, const char *p, size_t len, int64_t t)
{
    const char *end = p + len, *op = json_find(p, len, "op");
    if (c->state == C_SUBSCRIBED && json_str_is(op, end, "event")) {
        on_event(c, p, len, t);
        return;
    }
    if (json_str_is(op, end, "ready") && c->state == C_WAIT_READY) {
        char sub[200];
        int n = snprintf(sub, sizeof(sub), "{\"op\":\"subscribe\",\"channel\":\"%s\"}", O.channel);
        ws_queue_text(c, sub, (size_t)n);
        c->state = C_WAIT_SUB;
    } else if (json_str_is(op, end, "subscribed") && c->state == C_WAIT_SUB) {
        subscribed(c, p, len);
    } else if (json_str_is(op, end, "error") && c->state != C_SUBSCRIBED) {
        sub_error(c, "error before subscribed", p, len);
    } else if (json_str_is(op, end, "resync_required")) {
        INC(c->w->resyncs);
    } else {
        INC(c->w->other_msgs);
        if (O.verbose > 1)
            fprintf(stderr, "wsload: unexpected message: %.*s\n", (int)len, p);
    }
}

/* Engine.IO v4 packets; "4" carries a Socket.IO v5 packet of the default namespace. */
static void on_sio_msg(conn_t *c, const char *p, size_t len, int64_t t)
{
    if (len == 0)
        return;
    if (p[0] == '2') { /* ping: answer pong with the same payload */
        char pong[64];
        size_t n = len < sizeof(pong) ? len : sizeof(pong);
        memcpy(pong, p, n);
        pong[0] = '3';
        ws_queue_text(c, pong, n);
        INC(c->w->pings);
        return;
    }
    if (p[0] == '0' && c->state == C_WAIT_READY) { /* open: connect to the namespace */
        ws_queue_text(c, "40", 2);
        c->state = C_WAIT_NS;
        return;
    }
    if (p[0] == '1') { /* the server closes */
        c->close_code = 1;
        return;
    }
    if (p[0] != '4' || len < 2) {
        INC(c->w->other_msgs);
        return;
    }
    const char *end = p + len;
    if (p[1] == '2' && len > 4 && p[2] == '[') { /* event: 42["name",payload] */
        const char *name = p + 3, *comma = memchr(name, ',', (size_t)(end - name));
        const char *payload = comma ? comma + 1 : end;
        size_t plen = (size_t)(end - payload);
        if (c->state == C_SUBSCRIBED && json_str_is(name, end, "event")) {
            on_event(c, payload, plen, t);
        } else if (json_str_is(name, end, "subscribed") && c->state == C_WAIT_SUB) {
            subscribed(c, payload, plen);
        } else if (json_str_is(name, end, "error_msg") && c->state != C_SUBSCRIBED) {
            sub_error(c, "socket.io error before subscribed", p, len);
        } else {
            INC(c->w->other_msgs);
        }
    } else if (p[1] == '0' && c->state == C_WAIT_NS) { /* namespace connected */
        char sub[200];
        int n = snprintf(sub, sizeof(sub), "42[\"subscribe\",{\"channel\":\"%s\"}]", O.channel);
        ws_queue_text(c, sub, (size_t)n);
        c->state = C_WAIT_SUB;
    } else if (p[1] == '4') { /* connect_error */
        sub_error(c, "socket.io connect_error", p, len);
    } else if (p[1] == '1') { /* namespace disconnect */
        c->close_code = 1;
    } else {
        INC(c->w->other_msgs);
    }
}

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *ud)
{
    conn_t *c = ud;
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        c->close_code = arg->status_code ? arg->status_code : 1005;
        return;
    }
    if (arg->opcode != WSLAY_TEXT_FRAME)
        return; /* pings are answered by wslay itself */
    int64_t t = now_ns();
    if (O.proto == PROTO_CAIRN)
        on_cairn_msg(c, (const char *)arg->msg, arg->msg_length, t);
    else
        on_sio_msg(c, (const char *)arg->msg, arg->msg_length, t);
}

/* counts the server's WebSocket pings (wslay answers them) */
static void ws_frame_start_cb(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_start_arg *arg, void *ud)
{
    conn_t *c = ud;
    if (arg->opcode == WSLAY_PING)
        INC(c->w->pings);
}

static const struct wslay_event_callbacks WS_CALLBACKS = {
    .recv_callback = ws_recv_cb,
    .send_callback = ws_send_cb,
    .genmask_callback = ws_genmask_cb,
    .on_frame_recv_start_callback = ws_frame_start_cb,
    .on_msg_recv_callback = ws_msg_cb,
};

/* Runs wslay both ways and closes the connection when it is done. */
static void conn_ws_io(conn_t *c)
{
    c->drained = 0;
    if (wslay_event_recv(c->ws) != 0 || wslay_event_send(c->ws) != 0) {
        if (c->state == C_SUBSCRIBED)
            INC(c->w->closed_by_server);
        else {
            INC(c->w->subscribe_errors);
            worker_error(c->w, "connection closed before subscribed (close code %u)",
                         c->close_code);
        }
        conn_close(c, 1);
        return;
    }
    if (!wslay_event_want_read(c->ws) && !wslay_event_want_write(c->ws)) {
        if (c->state == C_SUBSCRIBED)
            INC(c->w->closed_by_server);
        conn_close(c, 1);
        return;
    }
    conn_want_out(c, wslay_event_want_write(c->ws));
}

static void base64(const unsigned char *in, int n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, n);
}

static void conn_start(worker_t *w, conn_t *c)
{
    c->w = w;
    c->t_start = now_ns();
    c->last_seq = -1;
    c->close_code = 0;
    c->out_registered = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    w->inflight++;
    c->state = C_CONNECTING;
    if (c->fd < 0) {
        INC(w->connect_errors);
        worker_error(w, "socket: %s", strerror(errno));
        conn_close(c, 0);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const struct sockaddr_in *addr = &O.ws_addr[c->target];
    if (connect(c->fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0 && errno != EINPROGRESS) {
        INC(w->connect_errors);
        worker_error(w, "connect: %s", strerror(errno));
        conn_close(c, 0);
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));

    c->hs = xcalloc(1, sizeof(hs_t));
    unsigned char nonce[16];
    char key[32];
    for (int i = 0; i < 16; i += 8) {
        uint64_t r = xorshift(&w->xs);
        memcpy(nonce + i, &r, 8);
    }
    base64(nonce, 16, key);
    char cat[80];
    unsigned char digest[SHA_DIGEST_LENGTH];
    int n = snprintf(cat, sizeof(cat), "%s%s", key, WS_GUID);
    SHA1((unsigned char *)cat, (size_t)n, digest);
    base64(digest, SHA_DIGEST_LENGTH, c->hs->accept);
    n = snprintf(c->hs->buf, sizeof(c->hs->buf),
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                 "Authorization: Bearer %s\r\n\r\n",
                 O.ws_path[c->target], O.ws_host[c->target], key, O.token);
    if (n <= 0 || (size_t)n >= sizeof(c->hs->buf))
        die("upgrade request too long");
    c->hs->len = (size_t)n;
    c->hs->off = 0;
}

static void hs_fail(conn_t *c, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    INC(c->w->handshake_errors);
    worker_error(c->w, "%s", msg);
    conn_close(c, 0);
}

static void conn_handshake(conn_t *c, uint32_t events)
{
    worker_t *w = c->w;
    hs_t *hs = c->hs;
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0) {
            INC(w->connect_errors);
            worker_error(w, "connect: %s", strerror(err));
            conn_close(c, 0);
            return;
        }
        c->state = C_HS_SEND;
    }
    if (c->state == C_HS_SEND) {
        ssize_t r = send(c->fd, hs->buf + hs->off, hs->len - hs->off, MSG_NOSIGNAL);
        if (r < 0 && errno != EAGAIN) {
            hs_fail(c, "send upgrade: %s", strerror(errno));
            return;
        }
        if (r > 0)
            hs->off += (size_t)r;
        if (hs->off < hs->len)
            return;
        hs->len = hs->off = 0;
        c->state = C_HS_RECV;
        c->out_registered = 1;
        conn_want_out(c, 0);
        return; /* the answer comes with EPOLLIN */
    }
    /* C_HS_RECV */
    ssize_t r = recv(c->fd, hs->buf + hs->len, sizeof(hs->buf) - 1 - hs->len, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (r <= 0) {
        hs_fail(c, "upgrade: connection closed (%s)", r < 0 ? strerror(errno) : "EOF");
        return;
    }
    hs->len += (size_t)r;
    hs->buf[hs->len] = '\0';
    char *eoh = strstr(hs->buf, "\r\n\r\n");
    if (eoh == NULL) {
        if (hs->len >= sizeof(hs->buf) - 1)
            hs_fail(c, "upgrade: answer headers too long");
        return;
    }
    *eoh = '\0';
    int status = 0;
    if (sscanf(hs->buf, "HTTP/1.%*d %d", &status) != 1 || status != 101) {
        char *nl = strchr(hs->buf, '\r');
        if (nl)
            *nl = '\0';
        hs_fail(c, "upgrade answered \"%.100s\" (status %d)", hs->buf, status);
        return;
    }
    char *acc = strcasestr(hs->buf, "\r\nsec-websocket-accept:");
    if (acc == NULL) {
        hs_fail(c, "upgrade: no Sec-WebSocket-Accept");
        return;
    }
    acc += strlen("\r\nsec-websocket-accept:");
    while (*acc == ' ' || *acc == '\t')
        acc++;
    size_t al = strcspn(acc, "\r \t");
    if (al != strlen(hs->accept) || memcmp(acc, hs->accept, al) != 0) {
        hs_fail(c, "upgrade: Sec-WebSocket-Accept %.*s, expected %s", (int)al, acc, hs->accept);
        return;
    }
    if (strcasestr(hs->buf, "\r\nsec-websocket-extensions:") != NULL) {
        hs_fail(c, "upgrade: the server negotiated an extension nobody asked for");
        return;
    }
    /* keep what followed the headers for wslay's first reads */
    size_t used = (size_t)(eoh + 4 - hs->buf);
    memmove(hs->buf, hs->buf + used, hs->len - used);
    hs->len -= used;
    hs->off = 0;
    if (hs->len == 0) {
        free(c->hs);
        c->hs = NULL;
    }
    if (wslay_event_context_client_init(&c->ws, &WS_CALLBACKS, c) != 0)
        die("out of memory (wslay)");
    wslay_event_config_set_max_recv_msg_length(c->ws, 1 << 20);
    c->state = C_WAIT_READY;
    conn_ws_io(c);
}

static void conn_event(conn_t *c, uint32_t events)
{
    if (c->state == C_CLOSED || c->state == C_FREE)
        return;
    if (c->state < C_WAIT_READY) {
        conn_handshake(c, events);
        return;
    }
    conn_ws_io(c);
}

/* ------------------------------------------------------------------ worker thread */

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    struct epoll_event evs[512];
    int per_thread_ramp = O.ramp / O.threads > 0 ? O.ramp / O.threads : 1;
    int64_t next_scan = now_ns() + 500000000;
    const int64_t hs_timeout = 15000000000LL;
    while (LOAD(g_phase) != PH_STOP && !g_interrupted) {
        while (w->inflight < per_thread_ramp && w->next < w->n_conns)
            conn_start(w, &w->conns[w->next++]);
        int n = epoll_wait(w->epfd, evs, 512, 5);
        w->batch_t = now_ns();
        for (int i = 0; i < n; i++)
            conn_event(evs[i].data.ptr, evs[i].events);
        int64_t t = now_ns();
        if (t >= next_scan) { /* handshakes that take too long are failures */
            next_scan = t + 500000000;
            for (int i = 0; i < w->next; i++) {
                conn_t *c = &w->conns[i];
                if (c->state > C_FREE && c->state < C_SUBSCRIBED && t - c->t_start > hs_timeout) {
                    INC(w->timeouts);
                    worker_error(w, "no subscription within %lld s (state %d)",
                                 (long long)(hs_timeout / 1000000000), c->state);
                    conn_close(c, 0);
                }
            }
        }
    }
    for (int i = 0; i < w->n_conns; i++)
        conn_close(&w->conns[i], 0);
    return NULL;
}

static uint64_t sum_workers(size_t offset)
{
    uint64_t s = 0;
    for (int i = 0; i < O.threads; i++)
        s += LOAD(*(uint64_t *)((char *)&g_workers[i] + offset));
    return s;
}
#define SUMW(field) sum_workers(offsetof(worker_t, field))

static uint64_t sum_step_deliveries(int step)
{
    uint64_t s = 0;
    for (int i = 0; i < O.threads; i++)
        s += LOAD(g_workers[i].step_deliveries[step]);
    return s;
}

/* ------------------------------------------------------------------ publisher */

typedef struct {
    int fd;
    char *out; /* owned */
    size_t out_len, out_off, out_cap;
    char *in; /* owned */
    size_t in_len;
    uint32_t q[MAX_PIPELINE]; /* counters of the requests in flight, oldest first */
    int64_t q_t[MAX_PIPELINE];
    int q_head, q_count;
    int dead;
} pub_t;

static struct {
    int epfd;
    pub_t conns[MAX_PUBLISHERS];
    int rr;
    uint32_t counter; /* next publish counter */
    uint64_t acked[MAX_STEPS], errors[MAX_STEPS], sent[MAX_STEPS], stalled;
    int last_error_status;
    int64_t max_lag_ns;
    hist_t post_lat[MAX_STEPS]; /* POST write -> answer */
    int n_dead;
} P;

static int pub_connect(pub_t *p)
{
    p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (p->fd < 0)
        die("socket: %s", strerror(errno));
    struct timeval tv = {5, 0};
    setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(p->fd, (struct sockaddr *)&O.pub_addr, sizeof(O.pub_addr)) != 0) {
        fprintf(stderr, "wsload: publisher connect: %s\n", strerror(errno));
        close(p->fd);
        p->fd = -1;
        return -1;
    }
    int one = 1;
    setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
    p->out_cap = (size_t)O.pipeline * (1024 + (size_t)O.body_bytes);
    p->out = xcalloc(1, p->out_cap);
    p->in = xcalloc(1, PUB_IN_BUF + 1);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
    if (epoll_ctl(P.epfd, EPOLL_CTL_ADD, p->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    return 0;
}

static void pub_dead(pub_t *p, const char *why)
{
    if (p->dead)
        return;
    fprintf(stderr, "wsload: publisher connection lost (%s); %d requests in flight\n", why,
            p->q_count);
    p->dead = 1;
    P.n_dead++;
    P.errors[0] += (uint64_t)p->q_count; /* never answered: counted as errors */
    p->q_count = 0;
    close(p->fd);
    p->fd = -1;
}

static void pub_flush(pub_t *p)
{
    while (p->out_off < p->out_len) {
        ssize_t r = send(p->fd, p->out + p->out_off, p->out_len - p->out_off, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            pub_dead(p, strerror(errno));
            return;
        }
        p->out_off += (size_t)r;
    }
    if (p->out_off == p->out_len)
        p->out_off = p->out_len = 0;
    struct epoll_event ev = {.events = EPOLLIN | (p->out_len ? EPOLLOUT : 0), .data.ptr = p};
    epoll_ctl(P.epfd, EPOLL_CTL_MOD, p->fd, &ev);
}

/* Queues one POST of publish counter P.counter on a connection with room; -1 if none. */
static int pub_send(int step)
{
    static char *pad;
    if (pad == NULL) {
        pad = xcalloc(1, (size_t)O.body_bytes + 1);
        memset(pad, 'x', (size_t)O.body_bytes);
    }
    for (int k = 0; k < O.publishers; k++) {
        pub_t *p = &P.conns[(P.rr + k) % O.publishers];
        if (p->dead || p->q_count >= O.pipeline ||
            p->out_cap - p->out_len < 1024 + (size_t)O.body_bytes)
            continue;
        P.rr = (P.rr + k + 1) % O.publishers;
        int64_t t = now_ns();
        char body[300];
        int bl = snprintf(body, sizeof(body), "{\"title\":\"wsl %d %u %" PRId64 "\"%s", step,
                          P.counter, t, O.body_bytes ? ",\"body\":\"" : "}");
        int n = snprintf(p->out + p->out_len, p->out_cap - p->out_len,
                         "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                         "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                         O.pub_path, O.pub_host, O.token,
                         bl + (O.body_bytes ? O.body_bytes + 2 : 0), body);
        p->out_len += (size_t)n;
        if (O.body_bytes) {
            memcpy(p->out + p->out_len, pad, (size_t)O.body_bytes);
            p->out_len += (size_t)O.body_bytes;
            memcpy(p->out + p->out_len, "\"}", 2);
            p->out_len += 2;
        }
        int slot = (p->q_head + p->q_count) % MAX_PIPELINE;
        p->q[slot] = P.counter;
        p->q_t[slot] = t;
        p->q_count++;
        P.counter++;
        P.sent[step]++;
        pub_flush(p);
        return 0;
    }
    return -1;
}

static int step_of_counter(uint32_t ctr);

/* Length of one complete HTTP/1.1 answer at the start of buf, 0 if incomplete, -1 bad. */
static ssize_t http_answer_len(const char *buf, size_t len, int *status, int *close_after)
{
    const char *eoh = memmem(buf, len, "\r\n\r\n", 4);
    if (eoh == NULL)
        return len > 16384 ? -1 : 0;
    size_t hl = (size_t)(eoh - buf) + 4;
    char head[16385];
    if (hl - 2 >= sizeof(head))
        return -1;
    memcpy(head, buf, hl - 2);
    head[hl - 2] = '\0';
    if (sscanf(head, "HTTP/1.%*d %d", status) != 1)
        return -1;
    *close_after = strcasestr(head, "\r\nconnection: close") != NULL;
    const char *cl = strcasestr(head, "\r\ncontent-length:");
    if (cl != NULL) {
        size_t total = hl + (size_t)strtoull(cl + 17, NULL, 10);
        return total <= len ? (ssize_t)total : 0;
    }
    if (strcasestr(head, "\r\ntransfer-encoding: chunked") == NULL)
        return (ssize_t)hl; /* no body (1xx/204/304) */
    size_t off = hl;
    for (;;) {
        const char *crlf = memmem(buf + off, len - off, "\r\n", 2);
        if (crlf == NULL)
            return 0;
        size_t size = (size_t)strtoull(buf + off, NULL, 16);
        off = (size_t)(crlf - buf) + 2;
        if (size == 0) {
            /* no trailers expected: the final CRLF */
            return off + 2 <= len ? (ssize_t)(off + 2) : 0;
        }
        off += size + 2;
        if (off > len)
            return 0;
    }
}

static void pub_read(pub_t *p)
{
    for (;;) {
        ssize_t r = recv(p->fd, p->in + p->in_len, PUB_IN_BUF - p->in_len, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (r <= 0) {
            pub_dead(p, r == 0 ? "closed by the server" : strerror(errno));
            return;
        }
        p->in_len += (size_t)r;
        int64_t t = now_ns();
        for (;;) {
            int status = 0, close_after = 0;
            ssize_t n = http_answer_len(p->in, p->in_len, &status, &close_after);
            if (n < 0) {
                pub_dead(p, "unparsable answer");
                return;
            }
            if (n == 0)
                break;
            if (p->q_count == 0) {
                pub_dead(p, "answer without a request");
                return;
            }
            uint32_t ctr = p->q[p->q_head];
            int64_t t_sent = p->q_t[p->q_head];
            p->q_head = (p->q_head + 1) % MAX_PIPELINE;
            p->q_count--;
            int step = step_of_counter(ctr);
            if (status >= 200 && status < 300) {
                g_acked[ctr] = 1;
                P.acked[step]++;
            } else {
                P.errors[step]++;
                if (P.last_error_status == 0)
                    fprintf(stderr, "wsload: publish answered %d: %.*s\n", status,
                            (int)(n > 300 ? 300 : n), p->in);
                P.last_error_status = status;
            }
            hist_add(&P.post_lat[step], (uint64_t)(t - t_sent) / 1000);
            memmove(p->in, p->in + n, p->in_len - (size_t)n);
            p->in_len -= (size_t)n;
            if (close_after) {
                pub_dead(p, "Connection: close");
                return;
            }
        }
        if (p->in_len == PUB_IN_BUF) {
            pub_dead(p, "answer too large");
            return;
        }
    }
}

static void pub_poll(int64_t until_ns)
{
    struct epoll_event evs[MAX_PUBLISHERS];
    int64_t wait = until_ns - now_ns();
    if (wait < 0)
        wait = 0;
    struct timespec ts = {wait / 1000000000, wait % 1000000000};
    int n = epoll_pwait2(P.epfd, evs, MAX_PUBLISHERS, &ts, NULL);
    for (int i = 0; i < n; i++) {
        pub_t *p = evs[i].data.ptr;
        if (p->dead)
            continue;
        if (evs[i].events & EPOLLOUT)
            pub_flush(p);
        if (!p->dead && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
            pub_read(p);
    }
}

static int pub_in_flight(void)
{
    int n = 0;
    for (int k = 0; k < O.publishers; k++)
        n += P.conns[k].dead ? 0 : P.conns[k].q_count;
    return n;
}

/* ------------------------------------------------------------------ measuring */

static uint32_t g_step_first[MAX_STEPS + 1]; /* counters of step s: [first[s], first[s+1]) */
static int g_n_steps;

static int step_of_counter(uint32_t ctr)
{
    for (int s = g_n_steps - 1; s > 0; s--)
        if (ctr >= g_step_first[s])
            return s;
    return 0;
}

static long g_clk_tck;

static long pid_rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* the servers' VmRSS together, -1 if none could be read */
static long server_rss_kb(void)
{
    long sum = -1;
    for (int i = 0; i < O.n_server_pids; i++) {
        long kb = pid_rss_kb(O.server_pids[i]);
        if (kb >= 0)
            sum = (sum < 0 ? 0 : sum) + kb;
    }
    return sum;
}

static double pid_cpu_s(int pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* fields after the command name */
    unsigned long ut = 0, st = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)g_clk_tck;
}

/* CPU seconds of a set of processes together, -1 if none could be read. A process that
 * exits during a step takes its time with it: the caller's numbers then undercount. */
static double pids_cpu_s(const int *pids, int n)
{
    double sum = -1;
    for (int i = 0; i < n; i++) {
        double s = pid_cpu_s(pids[i]);
        if (s >= 0)
            sum = (sum < 0 ? 0 : sum) + s;
    }
    return sum;
}

static double server_cpu_s(void)
{
    return pids_cpu_s(O.server_pids, O.n_server_pids);
}

static double aux_cpu_s(void)
{
    return pids_cpu_s(O.aux_pids, O.n_aux_pids);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds the whole machine spent busy (all CPUs, /proc/stat), -1 if unknown */
static double machine_busy_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return -1;
    /* user nice system [idle iowait] irq softirq steal */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)g_clk_tck;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static uint64_t g_ever_subscribed_total(void);

/* Waits until every connection is subscribed or failed, or the connect timeout. */
static double wait_connected(void)
{
    int64_t t0 = now_ns(), limit = t0 + (int64_t)(O.connect_timeout * 1e9);
    int64_t next_report = t0 + 2000000000LL;
    for (;;) {
        uint64_t ok = g_ever_subscribed_total();
        uint64_t bad =
            SUMW(connect_errors) + SUMW(handshake_errors) + SUMW(subscribe_errors) + SUMW(timeouts);
        int64_t t = now_ns();
        if (ok + bad >= (uint64_t)O.conns || t > limit || g_interrupted) {
            if (t > limit)
                fprintf(stderr,
                        "wsload: connect timeout: %" PRIu64 " subscribed, %" PRIu64
                        " failed of %d\n",
                        ok, bad, O.conns);
            return (double)(t - t0) / 1e9;
        }
        if (t > next_report && O.verbose) {
            fprintf(stderr, "wsload: %" PRIu64 " subscribed, %" PRIu64 " failed\n", ok, bad);
            next_report = t + 2000000000LL;
        }
        nap_ms(10);
    }
}

static uint64_t g_ever_subscribed_total(void)
{
    /* subscribed falls on a disconnect; the connect histograms only grow */
    uint64_t s = 0;
    for (int i = 0; i < O.threads; i++)
        s += LOAD(g_workers[i].connect_hist.count);
    return s;
}

static const char *proto_name(void)
{
    return O.proto == PROTO_CAIRN ? "cairn" : "socketio";
}

static void print_errors(void)
{
    for (int i = 0; i < O.threads; i++)
        if (g_workers[i].first_error[0])
            printf("  first error (thread %d): %s\n", i, g_workers[i].first_error);
    for (int i = 0; i < O.threads; i++)
        for (int k = 0; k < 8 && g_workers[i].codes[k].code; k++)
            printf("  close code %u from the server: %" PRIu64 " connections\n",
                   g_workers[i].codes[k].code, g_workers[i].codes[k].count);
}

static hist_t g_connect_hist;

static void print_connect_summary(double connect_s)
{
    memset(&g_connect_hist, 0, sizeof(g_connect_hist));
    for (int i = 0; i < O.threads; i++)
        hist_merge(&g_connect_hist, &g_workers[i].connect_hist);
    printf("connections: %d asked, %" PRIu64 " subscribed in %.2f s (%.0f/s); connect->subscribed "
           "p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
           O.conns, g_connect_hist.count, connect_s,
           connect_s > 0 ? (double)g_connect_hist.count / connect_s : 0,
           hist_pct_ms(&g_connect_hist, 50), hist_pct_ms(&g_connect_hist, 99),
           (double)g_connect_hist.max / 1000);
    printf("failures: connect %" PRIu64 ", upgrade %" PRIu64 ", auth/subscribe %" PRIu64
           ", timeout %" PRIu64 "\n",
           SUMW(connect_errors), SUMW(handshake_errors), SUMW(subscribe_errors), SUMW(timeouts));
}

static int run_hold(void)
{
    long rss0 = server_rss_kb();
    STORE(g_phase, PH_CONNECT);
    double connect_s = wait_connected();
    print_connect_summary(connect_s);
    nap_ms(1000);
    long rss1 = server_rss_kb();
    int64_t t0 = now_ns();
    while (now_ns() - t0 < (int64_t)(O.duration * 1e9) && !g_interrupted)
        nap_ms(100);
    long rss2 = server_rss_kb();
    uint64_t held = SUMW(subscribed), n = g_connect_hist.count;
    uint64_t failed =
        SUMW(connect_errors) + SUMW(handshake_errors) + SUMW(subscribe_errors) + SUMW(timeouts);
    double per_conn = (rss0 > 0 && rss2 > 0 && held > 0) ? (double)(rss2 - rss0) * 1024 / held : -1;
    printf("held %" PRIu64 " of %" PRIu64 " subscribed connections idle for %.0f s; "
           "disconnects %" PRIu64 ", pings answered %" PRIu64 "\n",
           held, n, O.duration, SUMW(disconnects), SUMW(pings));
    if (rss0 > 0)
        printf("server VmRSS: %ld KiB before, %ld KiB after connecting, %ld KiB after %.0f s idle "
               "-> %.0f bytes per idle connection\n",
               rss0, rss1, rss2, O.duration, per_conn);
    print_errors();
    printf("RESULT mode=hold proto=%s conns=%d held=%" PRIu64 " failed=%" PRIu64
           " connect_s=%.2f conn_p50_ms=%.2f conn_p99_ms=%.2f disconnects=%" PRIu64
           " pings=%" PRIu64 " rss_before_kb=%ld rss_connected_kb=%ld rss_after_kb=%ld"
           " bytes_per_conn=%.0f\n",
           proto_name(), O.conns, held, failed, connect_s, hist_pct_ms(&g_connect_hist, 50),
           hist_pct_ms(&g_connect_hist, 99), SUMW(disconnects), SUMW(pings), rss0, rss1, rss2,
           per_conn);
    return held == (uint64_t)O.conns ? 0 : 1;
}

typedef struct {
    double rate, secs, received_per_s, gen_cpu, srv_cpu;
    double aux_cpu;   /* --aux-pid processes (the database, the bus), -1 if none */
    double other_cpu; /* everything else on the machine: the noise of a shared box */
    uint64_t received;
} step_meas_t;

static step_meas_t g_meas[MAX_STEPS];

/* Publishes at `rate` for `secs`, as step `step`. */
static void run_step(int step, double rate, double secs)
{
    g_step_first[step] = P.counter;
    g_n_steps = step + 1;
    uint64_t d0 = SUMW(deliveries);
    double g0 = self_cpu_s(), s0 = server_cpu_s(), a0 = aux_cpu_s(), b0 = machine_busy_s();
    int64_t t0 = now_ns(), end = t0 + (int64_t)(secs * 1e9);
    double interval = 1e9 / rate;
    uint64_t i = 0;
    for (;;) {
        int64_t t = now_ns();
        if (t >= end || g_interrupted || P.n_dead == O.publishers)
            break;
        int stalled = 0;
        while (t0 + (int64_t)((double)i * interval) <= t && P.counter < MAX_PUBLISHES) {
            if (pub_send(step) != 0) {
                stalled = 1;
                P.stalled++;
                break;
            }
            int64_t lag = now_ns() - (t0 + (int64_t)((double)i * interval));
            if (lag > P.max_lag_ns)
                P.max_lag_ns = lag;
            i++;
        }
        int64_t next = t0 + (int64_t)((double)i * interval);
        if (stalled || next > end)
            next = stalled ? t + 1000000 : end;
        pub_poll(next);
    }
    int64_t t1 = now_ns();
    step_meas_t *m = &g_meas[step];
    m->rate = rate;
    m->secs = (double)(t1 - t0) / 1e9;
    m->received = SUMW(deliveries) - d0;
    m->received_per_s = (double)m->received / m->secs;
    m->gen_cpu = 100 * (self_cpu_s() - g0) / m->secs;
    m->srv_cpu = s0 >= 0 ? 100 * (server_cpu_s() - s0) / m->secs : -1;
    m->aux_cpu = a0 >= 0 ? 100 * (aux_cpu_s() - a0) / m->secs : -1;
    double busy = b0 >= 0 ? 100 * (machine_busy_s() - b0) / m->secs : -1;
    m->other_cpu = busy >= 0 && m->srv_cpu >= 0
                       ? busy - m->gen_cpu - m->srv_cpu - (m->aux_cpu > 0 ? m->aux_cpu : 0)
                       : -1;
    if (m->other_cpu < 0 && busy >= 0)
        m->other_cpu = 0; /* tick rounding */
    g_step_first[step + 1] = P.counter;
}

static void merged_lat(int step, hist_t *h)
{
    memset(h, 0, sizeof(*h));
    for (int i = 0; i < O.threads; i++)
        hist_merge(h, &g_workers[i].lat[step]);
}

static void merged_gen_lat(int step, hist_t *h)
{
    memset(h, 0, sizeof(*h));
    for (int i = 0; i < O.threads; i++)
        hist_merge(h, &g_workers[i].gen_lat[step]);
}

/* Latency of each acknowledged publish's first and of its last delivery, over a step. */
static void step_first_last(int step, hist_t *first, hist_t *last)
{
    memset(first, 0, sizeof(*first));
    memset(last, 0, sizeof(*last));
    for (uint32_t c = g_step_first[step]; c < g_step_first[step + 1]; c++) {
        uint32_t f = LOAD(g_first_us[c]), l = LOAD(g_last_us[c]);
        if (!g_acked[c] || f == 0)
            continue;
        hist_add(first, f - 1);
        hist_add(last, l - 1);
    }
}

static void print_timeline(void)
{
    int64_t secs = (now_ns() - g_run_t0) / 1000000000 + 1;
    if (secs > MAX_SECONDS)
        secs = MAX_SECONDS;
    printf("timeline (second since publishing started: deliveries, worst latency ms):\n");
    for (int64_t i = 0; i < secs; i++) {
        uint64_t n = 0;
        uint32_t mx = 0;
        for (int k = 0; k < O.threads; k++) {
            n += g_workers[k].sec_count[i];
            if (g_workers[k].sec_max_us[i] > mx)
                mx = g_workers[k].sec_max_us[i];
        }
        printf("  %3" PRId64 "s %8" PRIu64 " %9.2f\n", i, n, mx ? (mx - 1) / 1000.0 : 0.0);
    }
}

/* Missing deliveries of the acknowledged publishes of a step, and extra ones (duplicates). */
static void step_losses(int step, uint64_t n_sub, uint64_t *lost, uint64_t *dups)
{
    *lost = *dups = 0;
    for (uint32_t c = g_step_first[step]; c < g_step_first[step + 1]; c++) {
        uint64_t d = LOAD(g_delivered[c]);
        if (!g_acked[c])
            continue;
        if (d < n_sub)
            *lost += n_sub - d;
        else if (d > n_sub)
            *dups += d - n_sub;
    }
}

/*
 * Each target URL's share of the measured steps: its subscribers should each have received
 * every acknowledged publish. The per-publish counts above are the authority on losses;
 * this says on which target they fell (a subscriber lost mid-run makes the expectation an
 * estimate, and the disconnect count says so).
 */
static void print_targets(int n_steps)
{
    uint64_t acked = 0;
    for (int s = 1; s < n_steps; s++)
        acked += P.acked[s];
    for (int t = 0; t < O.n_urls; t++) {
        uint64_t subs = 0, got = 0;
        hist_t h;
        memset(&h, 0, sizeof(h));
        for (int i = 0; i < O.threads; i++) {
            subs += LOAD(g_workers[i].t_subscribed[t]);
            got += LOAD(g_workers[i].t_deliveries[t]);
            hist_merge(&h, &g_workers[i].t_lat[t]);
        }
        uint64_t want = acked * subs, lost = got < want ? want - got : 0;
        printf("target %d %s: %" PRIu64 " subscribers, %" PRIu64 " deliveries of %" PRIu64
               " expected (lost %" PRIu64 "); p50 %.2f / p99 %.2f / max %.2f ms\n",
               t + 1, O.ws_url[t], subs, got, want, lost, hist_pct_ms(&h, 50), hist_pct_ms(&h, 99),
               (double)h.max / 1000);
        printf("RESULT mode=target proto=%s target=%d subs=%" PRIu64 " received=%" PRIu64
               " expected=%" PRIu64 " lost=%" PRIu64 " p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
               proto_name(), t + 1, subs, got, want, lost, hist_pct_ms(&h, 50), hist_pct_ms(&h, 99),
               (double)h.max / 1000);
    }
}

static int run_publish(void)
{
    STORE(g_phase, PH_CONNECT);
    double connect_s = wait_connected();
    print_connect_summary(connect_s);
    uint64_t n_sub = SUMW(subscribed);
    if (n_sub == 0)
        die("no subscriber connection");
    P.epfd = epoll_create1(EPOLL_CLOEXEC);
    for (int k = 0; k < O.publishers; k++)
        if (pub_connect(&P.conns[k]) != 0)
            die("cannot connect the publisher");
    STORE(g_run_t0, now_ns());
    STORE(g_phase, PH_RUN);
    uint64_t disc0 = SUMW(disconnects);

    int n_steps;
    if (O.mode == MODE_FANOUT) {
        run_step(0, O.rates[0], O.warmup);
        run_step(1, O.rates[0], O.duration);
        n_steps = 2;
    } else {
        run_step(0, O.rates[0], O.warmup);
        n_steps = 1;
        for (int s = 0; s < O.n_rates && s + 1 < MAX_STEPS && !g_interrupted; s++) {
            run_step(s + 1, O.rates[s], O.step_duration);
            n_steps = s + 2;
            hist_t h;
            merged_lat(s + 1, &h);
            double offered = (double)n_sub * O.rates[s];
            double ratio = g_meas[s + 1].received_per_s / offered;
            double p99 = hist_pct_ms(&h, 99);
            fprintf(stderr,
                    "wsload: step %d: %.0f publishes/s -> %.0f deliveries/s (%.0f %% of "
                    "%.0f), p99 so far %.2f ms, generator CPU %.0f %%, server CPU %.0f %%\n",
                    s + 1, O.rates[s], g_meas[s + 1].received_per_s, 100 * ratio, offered, p99,
                    g_meas[s + 1].gen_cpu, g_meas[s + 1].srv_cpu);
            if (ratio < O.stop_ratio || p99 > O.stop_p99_ms || SUMW(disconnects) > disc0 ||
                P.n_dead > 0) {
                fprintf(stderr,
                        "wsload: saturated at step %d (stop rule: deliveries < %.0f %% "
                        "of offered, p99 > %.0f ms, a disconnect or a dead publisher)\n",
                        s + 1, 100 * O.stop_ratio, O.stop_p99_ms);
                break;
            }
        }
    }
    /* drain: answers to the last publishes, then their deliveries */
    int64_t drain_end = now_ns() + (int64_t)(O.drain * 1e9);
    while (pub_in_flight() > 0 && now_ns() < drain_end && !g_interrupted)
        pub_poll(now_ns() + 10000000);
    uint64_t acked_total = 0;
    for (int s = 0; s < n_steps; s++)
        acked_total += P.acked[s];
    for (;;) {
        uint64_t got = 0;
        for (int s = 0; s < n_steps; s++)
            got += sum_step_deliveries(s);
        if (got >= acked_total * SUMW(subscribed) || now_ns() >= drain_end || g_interrupted)
            break;
        nap_ms(10);
    }
    STORE(g_phase, PH_STOP);
    for (int i = 0; i < O.threads; i++)
        pthread_join(g_workers[i].tid, NULL);

    printf("subscribers: %" PRIu64 " on channel \"%s\"; publisher: %d connection(s), pipeline "
           "%d, %s\n",
           n_sub, O.channel, O.publishers, O.pipeline, O.pub_path);
    printf("%-5s %8s %10s %11s %8s %8s %8s %9s %7s %6s %8s %5s %8s %8s %8s\n", "step", "pub/s",
           "offered/s", "received/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "acked", "errs",
           "lost", "dups", "gen CPU", "srv CPU", "other");
    uint64_t total_lost = 0, total_errors = 0;
    int best = -1;
    for (int s = 0; s < n_steps; s++) {
        hist_t h;
        merged_lat(s, &h);
        uint64_t lost, dups;
        step_losses(s, n_sub, &lost, &dups);
        if (s > 0) {
            total_lost += lost;
            total_errors += P.errors[s];
        }
        step_meas_t *m = &g_meas[s];
        double offered = (double)P.acked[s] * (double)n_sub / m->secs;
        char label[16];
        snprintf(label, sizeof(label), s == 0 ? "warm" : "%d", s);
        printf("%-5s %8.0f %10.0f %11.0f %8.2f %8.2f %8.2f %9.2f %7" PRIu64 " %6" PRIu64
               " %8" PRIu64 " %5" PRIu64 " %7.0f%% %7.0f%% %7.0f%%\n",
               label, m->rate, offered, m->received_per_s, hist_pct_ms(&h, 50), hist_pct_ms(&h, 90),
               hist_pct_ms(&h, 99), (double)h.max / 1000, P.acked[s], P.errors[s], lost, dups,
               m->gen_cpu, m->srv_cpu, m->other_cpu);
        hist_t hf, hl, hg;
        step_first_last(s, &hf, &hl);
        merged_gen_lat(s, &hg);
        printf("      POST answer p50 %.2f / p99 %.2f ms; first delivery of a publish p50 %.2f / "
               "p99 %.2f ms; last p50 %.2f / p99 %.2f ms; inside wsload p50 %.2f / p99 %.2f ms\n",
               hist_pct_ms(&P.post_lat[s], 50), hist_pct_ms(&P.post_lat[s], 99),
               hist_pct_ms(&hf, 50), hist_pct_ms(&hf, 99), hist_pct_ms(&hl, 50),
               hist_pct_ms(&hl, 99), hist_pct_ms(&hg, 50), hist_pct_ms(&hg, 99));
        if (s > 0)
            printf("RESULT mode=%s proto=%s step=%d rate=%.0f subs=%" PRIu64 " secs=%.2f "
                   "offered=%.0f received=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f "
                   "acked=%" PRIu64 " errors=%" PRIu64 " lost=%" PRIu64 " dups=%" PRIu64
                   " gen_cpu=%.0f srv_cpu=%.0f other_cpu=%.0f post_p99_ms=%.2f first_p99_ms=%.2f "
                   "last_p99_ms=%.2f inside_p99_ms=%.2f aux_cpu=%.0f\n",
                   O.mode == MODE_FANOUT ? "fanout" : "saturate", proto_name(), s, m->rate, n_sub,
                   m->secs, offered, m->received_per_s, hist_pct_ms(&h, 50), hist_pct_ms(&h, 90),
                   hist_pct_ms(&h, 99), (double)h.max / 1000, P.acked[s], P.errors[s], lost, dups,
                   m->gen_cpu, m->srv_cpu, m->other_cpu, hist_pct_ms(&P.post_lat[s], 99),
                   hist_pct_ms(&hf, 99), hist_pct_ms(&hl, 99), hist_pct_ms(&hg, 99), m->aux_cpu);
        if (s > 0 && lost == 0 && P.errors[s] == 0 &&
            (best < 0 || m->received_per_s > g_meas[best].received_per_s))
            best = s;
    }
    printf("whole run: gaps %" PRIu64 ", reorders %" PRIu64 ", resync_required %" PRIu64
           ", disconnects %" PRIu64 ", other messages %" PRIu64 ", publisher stalls %" PRIu64
           " (pipeline full), max publish lag %.2f ms\n",
           SUMW(gaps), SUMW(reorders), SUMW(resyncs), SUMW(disconnects) - disc0, SUMW(other_msgs),
           P.stalled, (double)P.max_lag_ns / 1e6);
    print_errors();
    if (O.n_urls > 1)
        print_targets(n_steps);
    if (O.timeline)
        print_timeline();
    if (O.mode == MODE_SATURATE) {
        if (best > 0) {
            hist_t h;
            merged_lat(best, &h);
            printf("RESULT mode=ceiling proto=%s step=%d rate=%.0f received=%.0f p99_ms=%.2f "
                   "gaps=%" PRIu64 " reorders=%" PRIu64 " disconnects=%" PRIu64 "\n",
                   proto_name(), best, g_meas[best].rate, g_meas[best].received_per_s,
                   hist_pct_ms(&h, 99), SUMW(gaps), SUMW(reorders), SUMW(disconnects) - disc0);
        } else {
            printf("RESULT mode=ceiling proto=%s step=0 rate=0 received=0 p99_ms=0\n",
                   proto_name());
        }
    } else {
        printf("RESULT mode=fanout-checks proto=%s gaps=%" PRIu64 " reorders=%" PRIu64
               " disconnects=%" PRIu64 " resyncs=%" PRIu64 "\n",
               proto_name(), SUMW(gaps), SUMW(reorders), SUMW(disconnects) - disc0, SUMW(resyncs));
    }
    return total_lost == 0 && total_errors == 0 && SUMW(gaps) == 0 && SUMW(reorders) == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ main */

static void on_signal(int sig)
{
    g_interrupted = 1;
}

static void raise_nofile(rlim_t want)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur >= want)
        return;
    if (rl.rlim_max < want) {
        struct rlimit up = {want, want};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) /* root may raise the hard limit */
            return;
    }
    rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want)
        die("RLIMIT_NOFILE is %llu, %llu needed", (unsigned long long)rl.rlim_cur,
            (unsigned long long)want);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: wsload --mode hold|fanout|saturate --url ws://127.0.0.1:PORT/PATH [options]\n"
            "  --url URL                again for more targets: connection i goes to URL i mod n\n"
            "  --proto cairn|socketio   protocol on the WebSocket (default cairn)\n"
            "  --token T                bearer token on the upgrade and the POSTs (bench-token)\n"
            "  --conns N                subscriber connections (1000)\n"
            "  --channel C              channel to subscribe to (notes)\n"
            "  --duration S             hold: idle seconds; fanout: measured seconds (10)\n"
            "  --warmup S               fanout/saturate: unmeasured publishing first (2)\n"
            "  --publish-url URL        http://127.0.0.1:PORT/api/v1/notes\n"
            "  --publish-rate R         fanout: publishes per second (100)\n"
            "  --rates R1,R2,...        saturate: publishes per second per step\n"
            "  --step-duration S        saturate: seconds per step (6)\n"
            "  --stop-p99-ms M          saturate: stop after a step with p99 above M (500)\n"
            "  --stop-ratio F           saturate: stop when deliveries/s < F x offered (0.9)\n"
            "  --publishers K           publisher keep-alive connections (1)\n"
            "  --pipeline D             requests in flight per publisher connection (32)\n"
            "  --body-bytes B           note body size (0)\n"
            "  --drain S                wait for late answers and deliveries (3)\n"
            "  --threads T              subscriber epoll threads (1)\n"
            "  --ramp N                 connections in handshake at once (256)\n"
            "  --connect-timeout S      all subscribers must be ready by then (60)\n"
            "  --server-pid PID         read the server's VmRSS and CPU time from /proc (again:\n"
            "                           several processes, summed)\n"
            "  --aux-pid PID            CPU of other processes under test (database, bus), shown\n"
            "                           apart and not counted as noise (repeatable)\n"
            "  --timeline               fanout/saturate: deliveries and worst latency per second\n"
            "  -v                       progress on stderr (twice: unexpected messages)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"mode", 1, 0, 'm'},
                                         {"url", 1, 0, 'u'},
                                         {"proto", 1, 0, 'P'},
                                         {"token", 1, 0, 't'},
                                         {"conns", 1, 0, 'c'},
                                         {"channel", 1, 0, 'C'},
                                         {"duration", 1, 0, 'd'},
                                         {"warmup", 1, 0, 'w'},
                                         {"publish-url", 1, 0, 'U'},
                                         {"publish-rate", 1, 0, 'r'},
                                         {"rates", 1, 0, 'R'},
                                         {"step-duration", 1, 0, 'S'},
                                         {"publishers", 1, 0, 'k'},
                                         {"pipeline", 1, 0, 'D'},
                                         {"body-bytes", 1, 0, 'b'},
                                         {"drain", 1, 0, 'a'},
                                         {"threads", 1, 0, 'T'},
                                         {"ramp", 1, 0, 'p'},
                                         {"connect-timeout", 1, 0, 'o'},
                                         {"server-pid", 1, 0, 'i'},
                                         {"aux-pid", 1, 0, 'A'},
                                         {"stop-p99-ms", 1, 0, 'x'},
                                         {"stop-ratio", 1, 0, 'y'},
                                         {"timeline", 0, 0, 'L'},
                                         {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *pub_url = NULL;
    double rate = 100;
    int opt;
    while ((opt = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            if (strcmp(optarg, "hold") == 0)
                O.mode = MODE_HOLD;
            else if (strcmp(optarg, "fanout") == 0)
                O.mode = MODE_FANOUT;
            else if (strcmp(optarg, "saturate") == 0)
                O.mode = MODE_SATURATE;
            else
                usage();
            break;
        case 'u':
            if (O.n_urls == MAX_URLS)
                die("at most %d --url", MAX_URLS);
            O.ws_url[O.n_urls++] = optarg;
            break;
        case 'P':
            if (strcmp(optarg, "cairn") == 0)
                O.proto = PROTO_CAIRN;
            else if (strcmp(optarg, "socketio") == 0)
                O.proto = PROTO_SOCKETIO;
            else
                usage();
            break;
        case 't': O.token = optarg; break;
        case 'c': O.conns = atoi(optarg); break;
        case 'C': O.channel = optarg; break;
        case 'd': O.duration = atof(optarg); break;
        case 'w': O.warmup = atof(optarg); break;
        case 'U': pub_url = optarg; break;
        case 'r': rate = atof(optarg); break;
        case 'R': {
            char *s = optarg, *e;
            O.n_rates = 0;
            while (*s && O.n_rates < MAX_STEPS - 1) {
                O.rates[O.n_rates++] = strtod(s, &e);
                if (e == s)
                    usage();
                s = *e == ',' ? e + 1 : e;
            }
            break;
        }
        case 'S': O.step_duration = atof(optarg); break;
        case 'k': O.publishers = atoi(optarg); break;
        case 'D': O.pipeline = atoi(optarg); break;
        case 'b': O.body_bytes = atoi(optarg); break;
        case 'a': O.drain = atof(optarg); break;
        case 'T': O.threads = atoi(optarg); break;
        case 'p': O.ramp = atoi(optarg); break;
        case 'o': O.connect_timeout = atof(optarg); break;
        case 'i':
            if (O.n_server_pids == MAX_PIDS)
                die("at most %d --server-pid", MAX_PIDS);
            O.server_pids[O.n_server_pids++] = atoi(optarg);
            break;
        case 'A':
            if (O.n_aux_pids == MAX_PIDS)
                die("at most %d --aux-pid", MAX_PIDS);
            O.aux_pids[O.n_aux_pids++] = atoi(optarg);
            break;
        case 'x': O.stop_p99_ms = atof(optarg); break;
        case 'y': O.stop_ratio = atof(optarg); break;
        case 'v': O.verbose++; break;
        case 'L': O.timeline = 1; break;
        default: usage();
        }
    }
    /* g_delivered counts to 65535; one client address has ~28 000 ports anyway */
    if (O.n_urls == 0 || O.conns <= 0 || O.conns > 60000 || O.threads < 1 ||
        O.threads > MAX_THREADS || O.publishers < 1 || O.publishers > MAX_PUBLISHERS ||
        O.pipeline < 1 || O.pipeline > MAX_PIPELINE || O.body_bytes < 0 || O.body_bytes > 100000 ||
        O.ramp < 1 || O.duration <= 0 || O.duration > 3600 || O.step_duration <= 0 ||
        O.step_duration > 600 || O.warmup < 0 || O.warmup > 600 || O.drain < 0 || O.drain > 600 ||
        strlen(O.channel) > 100 || strlen(O.token) > 1000)
        usage();
    for (int t = 0; t < O.n_urls; t++) {
        parse_url(O.ws_url[t], "ws", &O.ws_addr[t], O.ws_host[t], sizeof(O.ws_host[t]),
                  O.ws_path[t], sizeof(O.ws_path[t]));
        if (O.proto == PROTO_SOCKETIO && strcmp(O.ws_path[t], "/") == 0)
            snprintf(O.ws_path[t], sizeof(O.ws_path[t]), "/socket.io/?EIO=4&transport=websocket");
    }
    for (int i = 0; i < O.n_server_pids; i++)
        if (O.server_pids[i] <= 0)
            usage();
    for (int i = 0; i < O.n_aux_pids; i++)
        if (O.aux_pids[i] <= 0)
            usage();
    if (O.mode != MODE_HOLD) {
        if (pub_url == NULL)
            die("--publish-url is required with --mode fanout|saturate");
        parse_url(pub_url, "http", &O.pub_addr, O.pub_host, sizeof(O.pub_host), O.pub_path,
                  sizeof(O.pub_path));
        if (O.mode == MODE_FANOUT || O.n_rates == 0) {
            O.rates[0] = rate;
            O.n_rates = O.mode == MODE_FANOUT ? 1 : O.n_rates ? O.n_rates : 1;
        }
        for (int i = 0; i < O.n_rates; i++)
            if (O.rates[i] <= 0 || O.rates[i] > 100000)
                die("publish rates must be in (0, 100000]");
    }
    g_clk_tck = sysconf(_SC_CLK_TCK);
    raise_nofile((rlim_t)O.conns + (rlim_t)O.publishers + 64);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    g_delivered = xcalloc(MAX_PUBLISHES, sizeof(*g_delivered));
    g_first_us = xcalloc(MAX_PUBLISHES, sizeof(*g_first_us));
    g_last_us = xcalloc(MAX_PUBLISHES, sizeof(*g_last_us));
    g_acked = xcalloc(MAX_PUBLISHES, sizeof(*g_acked));
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
        seed = (uint64_t)now_ns();
    int base = O.conns / O.threads, extra = O.conns % O.threads, global = 0;
    for (int i = 0; i < O.threads; i++) {
        worker_t *w = &g_workers[i];
        w->idx = i;
        w->n_conns = base + (i < extra);
        w->conns = xcalloc((size_t)w->n_conns, sizeof(conn_t));
        for (int k = 0; k < w->n_conns; k++, global++) {
            w->conns[k].fd = -1;
            w->conns[k].target = (uint8_t)(global % O.n_urls);
        }
        w->xs = seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1));
        if (w->xs == 0)
            w->xs = 1;
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (w->epfd < 0)
            die("epoll_create1: %s", strerror(errno));
    }
    printf("wsload %s %s: %d connections to %s%s%s, %d thread(s)\n",
           O.mode == MODE_HOLD     ? "hold"
           : O.mode == MODE_FANOUT ? "fanout"
                                   : "saturate",
           proto_name(), O.conns, O.ws_host[0], O.ws_path[0],
           O.n_urls > 1 ? " and the other --url, spread evenly" : "", O.threads);
    fflush(stdout);
    for (int i = 0; i < O.threads; i++)
        if (pthread_create(&g_workers[i].tid, NULL, worker_main, &g_workers[i]) != 0)
            die("pthread_create failed");
    int rc;
    if (O.mode == MODE_HOLD) {
        rc = run_hold();
        STORE(g_phase, PH_STOP);
        for (int i = 0; i < O.threads; i++)
            pthread_join(g_workers[i].tid, NULL);
    } else {
        rc = run_publish();
    }
    for (int i = 0; i < O.threads; i++)
        free(g_workers[i].conns);
    free(g_delivered);
    free(g_first_us);
    free(g_last_us);
    free(g_acked);
    return g_interrupted ? 130 : rc;
}
