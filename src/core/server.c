/*
 * Server (see server.h). main() blocks SIGTERM/SIGINT in every thread and waits for them
 * with sigwait(); on a signal it posts a shutdown message to each loop through h2o's
 * multithread queue. A loop then closes its listeners, asks h2o to finish keep-alive
 * connections after their current request, and exits when no connection is left or the
 * deadline passes. Loops never block on anything but their own socket events and short
 * store calls.
 */
#include "core/server.h"
#include "core/bus.h"
#include "core/events_int.h"
#include "core/jobs_int.h"
#include "core/cache.h"
#include "core/http_int.h"
#include "core/instance.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/mail.h"
#include "core/realtime.h"
#include "core/store_open.h"
#include "core/system.h"
#include "core/workers_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct st_cn_loop_t {
    int index;
    pthread_t tid;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    int fds[CN_MAX_LISTEN];
    h2o_socket_t *listeners[CN_MAX_LISTEN];
    size_t n_listeners;
    cn_store_t *store; /* owned: this loop's connection */
    h2o_multithread_receiver_t control;
    h2o_multithread_receiver_t work_done; /* completions of offloaded work */
    h2o_multithread_receiver_t wakeup;    /* the write lock was released */
    h2o_multithread_receiver_t handoff;   /* connections other loops accepted for this one */
    h2o_multithread_message_t stop_msg;
    int stopping;
    uint64_t deadline_ns;
    int exit_code;
} cn_loop_t;

typedef struct {
    h2o_handler_t super;
} cairn_handler_t;

static struct {
    const cn_config_t *cfg;
    pthread_t checkpointer;
    cn_store_t *checkpoint_store;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    h2o_barrier_t ready; /* every loop has registered its receivers */
    int stop_checkpointer;
    h2o_globalconf_t globalconf;
    SSL_CTX *ssl_ctx;
    cn_loop_t *loops;
    int n_loops;
    atomic_uint next_loop;       /* round robin: the loop that gets the next connection */
    atomic_int listeners_closed; /* loops that accept no more (none hands off after that) */
} server_state;

/* A connection accepted by one loop for another; the receiver owns fd and the message. */
typedef struct {
    h2o_multithread_message_t super;
    int fd;
} handoff_t;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    cn_loop_t *loop = H2O_STRUCT_FROM_MEMBER(cn_loop_t, ctx, req->conn->ctx);
    return cn_http_handle(req, loop->store);
}

static void start_connection(cn_loop_t *loop, int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    h2o_socket_t *sock =
        h2o_evloop_socket_create(loop->loop, fd, H2O_SOCKET_FLAG_IS_ACCEPTED_CONNECTION);
    h2o_accept(&loop->accept_ctx, sock);
}

static void on_handoff(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    cn_loop_t *loop = H2O_STRUCT_FROM_MEMBER(cn_loop_t, handoff, receiver);
    /* next is read before the unlink: a form the static analyzer follows through h2o's list */
    for (h2o_linklist_t *node = messages->next, *next; node != messages; node = next) {
        next = node->next;
        handoff_t *m = H2O_STRUCT_FROM_MEMBER(handoff_t, super.link, node);
        h2o_linklist_unlink(&m->super.link);
        if (loop->stopping) /* like a connection still in the backlog at shutdown */
            close(m->fd);
        else
            start_connection(loop, m->fd);
        free(m);
    }
}

/*
 * Every loop polls the shared listening socket and the first awake accepts, so left to
 * itself one loop would take a whole burst of new connections (and keep them: they are
 * keep-alive). Connections are therefore dealt round robin: the accepting loop keeps its
 * turns and hands the others' to their loops.
 */
static void on_accept(h2o_socket_t *listener, const char *err)
{
    cn_loop_t *loop = listener->data;
    if (err != NULL)
        return;
    int listen_fd = -1;
    for (size_t i = 0; i < loop->n_listeners; i++)
        if (loop->listeners[i] == listener)
            listen_fd = loop->fds[i];
    for (int i = 0; i < 16; i++) { /* drain a burst without starving other events */
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        unsigned turn = atomic_fetch_add_explicit(&server_state.next_loop, 1, memory_order_relaxed);
        cn_loop_t *to = &server_state.loops[turn % (unsigned)server_state.n_loops];
        if (to == loop) {
            start_connection(loop, fd);
            continue;
        }
        handoff_t *m = cn_calloc(1, sizeof(*m));
        m->fd = fd;
        h2o_multithread_send_message(&to->handoff, &m->super);
    }
}

static size_t open_connections(cn_loop_t *loop)
{
    return !h2o_linklist_is_empty(&loop->ctx.http1._conns) +
           !h2o_linklist_is_empty(&loop->ctx.http2._conns);
}

static void on_control(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    cn_loop_t *loop = H2O_STRUCT_FROM_MEMBER(cn_loop_t, control, receiver);
    for (h2o_linklist_t *node = messages->next, *next; node != messages; node = next) {
        next = node->next;
        h2o_linklist_unlink(node);
    }
    if (loop->stopping)
        return;
    loop->stopping = 1;
    loop->deadline_ns = cn_now_ns() + (uint64_t)server_state.cfg->shutdown_timeout_s * 1000000000u;
    for (size_t i = 0; i < loop->n_listeners; i++) {
        h2o_socket_read_stop(loop->listeners[i]);
        h2o_socket_close(loop->listeners[i]);
        loop->listeners[i] = NULL;
    }
    atomic_fetch_add(&server_state.listeners_closed, 1);
    h2o_context_request_shutdown(&loop->ctx);
    cn_realtime_loop_shutdown(); /* WebSocket clients get 1001, event streams end */
    /* h2o 2.2 leaves idle HTTP/1 keep-alive connections open on shutdown; shortening the
     * request timeout closes them within a second without cutting an answer short */
    if (loop->ctx.http1.req_timeout.timeout > 1000)
        loop->ctx.http1.req_timeout.timeout = 1000;
}

static void init_loop(cn_loop_t *loop);

/* The loop's poll returns for this; the turn's end then tries its waiting writes again. */
static void on_wakeup(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    (void)messages;
}

static void wake_loop(void *ud)
{
    cn_loop_t *loop = ud;
    h2o_multithread_send_message(&loop->wakeup, NULL);
}

static void *loop_main(void *arg)
{
    cn_loop_t *loop = arg;
    /* the loop's evloop, context and listeners are made on its own thread, so that h2o's
     * per-thread memory (buffer recycling) never crosses threads */
    init_loop(loop);
    h2o_barrier_wait(&server_state.ready);
    cn_metrics_bind_thread(loop->index);
    cn_workers_bind_loop(&loop->work_done);
    cn_realtime_bind_loop(loop->index, &loop->ctx, loop->store);
    int turn = 0;
    while (!loop->stopping || (open_connections(loop) && cn_now_ns() < loop->deadline_ns)) {
        /* no sleep after answers sent outside h2o (their write completions are pending);
         * writes waiting for the lock are retried soon even if no wake-up comes; otherwise
         * wake at least every 100 ms while access lines wait to be written */
        int32_t wait = turn == CN_TURN_ANSWERED  ? 0
                       : turn == CN_TURN_WAITING ? 1
                       : loop->stopping          ? 20
                       : cn_log_pending()        ? 100
                                                 : INT32_MAX;
        h2o_evloop_run(loop->loop, wait);
        turn = cn_http_end_turn(loop->store); /* group commit, then the held answers */
        cn_log_flush_due();
    }
    cn_store_set_waker(loop->store, NULL, NULL); /* before its receiver goes */
    loop->exit_code = open_connections(loop) ? 1 : 0;
    if (loop->exit_code == 0) { /* all connections are gone: the loop can be torn down */
        /* a loop still accepting may hand this one a connection: wait until none is, and
         * the run below closes what was handed off meanwhile, before the queue goes */
        while (atomic_load(&server_state.listeners_closed) < server_state.n_loops)
            usleep(1000);
        /* work for requests that left meanwhile may still be running: let it finish, then
         * take its completions (they only free their arguments) before the queue goes */
        cn_workers_settle();
        cn_realtime_loop_stop();
        h2o_evloop_run(loop->loop, 0);
        cn_realtime_loop_free();
        h2o_multithread_unregister_receiver(loop->ctx.queue, &loop->control);
        h2o_multithread_unregister_receiver(loop->ctx.queue, &loop->work_done);
        h2o_multithread_unregister_receiver(loop->ctx.queue, &loop->wakeup);
        h2o_multithread_unregister_receiver(loop->ctx.queue, &loop->handoff);
        /* h2o 2.2 arms this timer on shutdown even without HTTP/2 connections */
        if (h2o_timeout_is_linked(&loop->ctx.http2._graceful_shutdown_timeout))
            h2o_timeout_unlink(&loop->ctx.http2._graceful_shutdown_timeout);
        h2o_context_dispose(&loop->ctx);
        h2o_evloop_destroy(loop->loop);
    }
    cn_http_thread_exit();
    cn_log_thread_exit();
    return NULL;
}

/*
 * Loop connections never checkpoint inside a commit (it would stall every request held
 * back by that commit for milliseconds); this thread does it every 100 ms instead.
 */
static void *checkpointer_main(void *arg)
{
    pthread_mutex_lock(&server_state.stop_lock);
    while (!server_state.stop_checkpointer) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000000;
        if (until.tv_nsec >= 1000000000)
            until.tv_sec++, until.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&server_state.stop_cond, &server_state.stop_lock, &until);
        pthread_mutex_unlock(&server_state.stop_lock);
        cn_err_t err = {0};
        if (cn_store_checkpoint(server_state.checkpoint_store, &err) != 0)
            cn_log(CN_LOG_WARN, NULL, "checkpoint failed: %s", err.msg);
        pthread_mutex_lock(&server_state.stop_lock);
    }
    pthread_mutex_unlock(&server_state.stop_lock);
    return NULL;
}

static void stop_checkpointer(void)
{
    pthread_mutex_lock(&server_state.stop_lock);
    server_state.stop_checkpointer = 1;
    pthread_cond_signal(&server_state.stop_cond);
    pthread_mutex_unlock(&server_state.stop_lock);
    pthread_join(server_state.checkpointer, NULL);
}

/* The host and port of "host:port" or "[v6]:port" (port_override if non-zero). */
static int split_hostport(const char *hostport, uint16_t port_override, char *host, size_t cap,
                          char port[16], cn_err_t *err)
{
    const char *colon = strrchr(hostport, ':');
    size_t hlen = (size_t)(colon - hostport);
    if (hostport[0] == '[') /* [::1]:8080 */
        hostport++, hlen -= 2;
    if (hlen >= cap)
        return cn_err_set(err, CN_EINVAL, "server.listen: host too long");
    memcpy(host, hostport, hlen);
    host[hlen] = '\0';
    snprintf(port, 16, "%u", port_override ? port_override : (unsigned)atoi(colon + 1));
    return 0;
}

/*
 * Binds and listens on one address, without SO_REUSEPORT: with it, any other process of
 * the same user could bind the same address and silently take a share of the connections.
 * Without it the kernel refuses a second listener, from this program or another.
 */
static int listen_socket(const char *hostport, uint16_t *port_io, cn_err_t *err)
{
    char host[256], port[16];
    if (split_hostport(hostport, *port_io, host, sizeof(host), port, err) != 0)
        return CN_EINVAL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0)
        return cn_err_set(err, CN_EINVAL, "server.listen: cannot resolve %s: %s", host,
                          gai_strerror(gai));
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        if (e == EADDRINUSE)
            cn_err_set(err, CN_EINVAL,
                       "server.listen: %s:%s is already in use (another cairn, or another "
                       "program, listens there)",
                       host, port);
        else
            cn_err_set(err, CN_EINVAL, "server.listen: cannot listen on %s:%s: %s", host, port,
                       strerror(e));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return CN_EINVAL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss)); /* clang's analyzer does not see getsockname write it */
    socklen_t sl = sizeof(ss);
    if (*port_io == 0 && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *port_io = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                  : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/*
 * Opens one listening socket per address and gives every loop its own descriptor of it
 * (a dup, which each loop closes on its own at shutdown); on_accept deals the accepted
 * connections to the loops in turn.
 */
/* Binds every address (nothing is accepted until the loops run); sets ports[a]. */
static int open_listeners(const cn_config_t *cfg, uint16_t *ports, cn_err_t *err)
{
    for (size_t a = 0; a < cfg->n_listen; a++) {
        int fd = listen_socket(cfg->listen[a], &ports[a], err);
        if (fd < 0)
            return fd;
        for (int t = 0; t < server_state.n_loops; t++) {
            int dup_fd = t == 0 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 0);
            if (dup_fd < 0)
                return cn_err_set(err, CN_ERR, "server.listen: dup: %s", strerror(errno));
            server_state.loops[t].fds[a] = dup_fd;
            server_state.loops[t].n_listeners = a + 1;
        }
    }
    return 0;
}

/* The lines scripts and tests wait for, printed once the server is about to serve. */
static void print_listening(const cn_config_t *cfg, const uint16_t *ports)
{
    const char *scheme = server_state.ssl_ctx ? "https" : "http";
    for (size_t a = 0; a < cfg->n_listen; a++) {
        const char *colon = strrchr(cfg->listen[a], ':');
        int host_len = (int)(colon - cfg->listen[a]);
        fprintf(stderr, "listening on %s://%.*s:%u\n", scheme, host_len, cfg->listen[a], ports[a]);
        if (a == 0) /* where a person starts: the console signs in through the API */
            fprintf(stderr, "console: %s://%.*s:%u/console\n", scheme, host_len, cfg->listen[a],
                    ports[a]);
    }
}

static int setup_tls(const cn_config_t *cfg, cn_err_t *err)
{
    if (cfg->tls_cert[0] == '\0')
        return 0;
    server_state.ssl_ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(server_state.ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(server_state.ssl_ctx, SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_use_certificate_chain_file(server_state.ssl_ctx, cfg->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(server_state.ssl_ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(server_state.ssl_ctx) != 1) {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
        return cn_err_set(err, CN_EINVAL, "server.tls_cert/server.tls_key: cannot load: %s", buf);
    }
    h2o_ssl_register_alpn_protocols(server_state.ssl_ctx, h2o_http2_alpn_protocols);
    return 0;
}

static void setup_globalconf(const cn_config_t *cfg)
{
    h2o_config_init(&server_state.globalconf);
    server_state.globalconf.server_name = h2o_iovec_init(H2O_STRLIT("cairn"));
    server_state.globalconf.max_request_entity_size = (size_t)cfg->max_body;
    server_state.globalconf.http1.req_timeout = (uint64_t)cfg->request_timeout_ms;
    server_state.globalconf.http2.idle_timeout = (uint64_t)cfg->idle_timeout_ms;
    server_state.globalconf.http2.graceful_shutdown_timeout =
        (uint64_t)cfg->shutdown_timeout_s * 1000;
    h2o_hostconf_t *host = h2o_config_register_host(&server_state.globalconf,
                                                    h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    cairn_handler_t *h = (cairn_handler_t *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = on_req;
    cn_error_filter_register(path, (size_t)cfg->max_body);
    cn_error_filter_register(&host->fallback_path, (size_t)cfg->max_body);
}

static void init_loop(cn_loop_t *loop)
{
    loop->loop = h2o_evloop_create();
    h2o_context_init(&loop->ctx, loop->loop, &server_state.globalconf);
    loop->accept_ctx.ctx = &loop->ctx;
    loop->accept_ctx.hosts = server_state.globalconf.hosts;
    loop->accept_ctx.ssl_ctx = server_state.ssl_ctx;
    h2o_multithread_register_receiver(loop->ctx.queue, &loop->control, on_control);
    h2o_multithread_register_receiver(loop->ctx.queue, &loop->work_done, cn_workers_on_done);
    h2o_multithread_register_receiver(loop->ctx.queue, &loop->wakeup, on_wakeup);
    h2o_multithread_register_receiver(loop->ctx.queue, &loop->handoff, on_handoff);
    cn_store_set_waker(loop->store, wake_loop, loop);
    for (size_t i = 0; i < loop->n_listeners; i++) {
        loop->listeners[i] =
            h2o_evloop_socket_create(loop->loop, loop->fds[i], H2O_SOCKET_FLAG_DONT_READ);
        loop->listeners[i]->data = loop;
        h2o_socket_read_start(loop->listeners[i], on_accept);
    }
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* a loop's options (no checkpoints in commits): it shares the loops' write connection */
static int open_worker_store(cn_store_t **out, cn_err_t *err)
{
    return cn_open_loop_store(server_state.cfg, out, err);
}

static int wait_for_signal(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    sigwait(&set, &sig);
    return sig;
}

static int drain_and_join(void)
{
    for (int i = 0; i < server_state.n_loops; i++)
        h2o_multithread_send_message(&server_state.loops[i].control,
                                     &server_state.loops[i].stop_msg);
    int code = 0;
    for (int i = 0; i < server_state.n_loops; i++) {
        pthread_join(server_state.loops[i].tid, NULL);
        code |= server_state.loops[i].exit_code;
    }
    return code;
}

/*
 * The bus that carries events, revocations, cache invalidations and job doorbells between
 * nodes (bus.h): none with cluster.nats_url empty. A NATS server that does not answer yet
 * does not stop the start: the node is not ready (/readyz) and bypasses its cache until it
 * connects. Opened before the modules start, which subscribe to it.
 */
static int open_bus(const cn_config_t *cfg, cn_err_t *err)
{
    char name[96], host[64] = "";
    if (gethostname(host, sizeof(host) - 1) != 0)
        host[0] = '\0';
    snprintf(name, sizeof(name), "cairn %s pid %d", host, (int)getpid());
    cn_bus_t *b;
    int rc = cn_bus_open(cfg->nats_url, name, cfg->cluster_name, &b, err);
    if (rc == 0)
        cn_bus_set_process(b);
    return rc;
}

/* cairn_bus_*: only with a bus (a node without NATS has nothing to say about one) */
static void collect_bus(cn_buf_t *out, void *data)
{
    (void)data;
    cn_bus_t *b = cn_bus_process();
    if (b == NULL)
        return;
    static const cn_metric_def_t series[] = {
        {"cairn_bus_connected", "gauge", "1 while the node is connected to NATS."},
        {"cairn_bus_received_total", "counter", "Messages received from other nodes."},
        {"cairn_bus_dropped_total", "counter",
         "Messages not sent: the send queue or the reconnect buffer was full."},
    };
    uint64_t dropped, received;
    cn_bus_counts(b, &dropped, &received);
    const uint64_t values[] = {(uint64_t)cn_bus_is_connected(b), received, dropped};
    _Static_assert(CN_ARRAY_SIZE(series) == CN_ARRAY_SIZE(values), "one value per series");
    cn_metrics_render_plain(out, series, values, CN_ARRAY_SIZE(series));
}

static void close_bus(void)
{
    cn_bus_t *b = cn_bus_process();
    cn_bus_set_process(NULL);
    cn_bus_close(b);
}

int cn_server_run(const cn_config_t *cfg, const cn_app_t *const *apps)
{
    uint64_t t0 = cn_now_ns();
    cn_err_t err = {0};
    int rc = 1;
    server_state.cfg = cfg;
    server_state.n_loops = cn_config_threads(cfg);
    server_state.loops = cn_calloc((size_t)server_state.n_loops, sizeof(cn_loop_t));
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every loop thread */

    cn_cache_init(cfg->cache_max_bytes, cfg->cache_ttl_ms); /* before modules start */
    cn_router_t *router = cn_router_new();
    int lock_fd = -1;
    cn_store_t *relay_store = NULL;
    uint16_t ports[CN_MAX_LISTEN] = {0};
    /* A bus or database engine this build lacks, a bad certificate or an address in use
     * stops us before anything exists on disk;
     * then the data directory's lock, before anything touches the database: a second
     * server on it would migrate it, run its jobs and checkpoint it beside the first. */
    if (open_bus(cfg, &err) != 0 || cn_store_driver_check(cfg->store_url, &err) != 0 ||
        setup_tls(cfg, &err) != 0 || open_listeners(cfg, ports, &err) != 0 ||
        (lock_fd = cn_instance_lock(cfg->data_dir, &err)) < 0)
        goto Exit;
    if (cn_cache_attach_bus(cn_bus_process(), &err) != 0 ||
        cn_system_init(cfg, apps, router, &err) != 0)
        goto Exit;
    if (cn_open_store(cfg, 1, &relay_store, &err) != 0 ||
        cn_events_relay_start(relay_store, &err) != 0)
        goto Exit;
    cn_metrics_init(router, server_state.n_loops);
    cn_metrics_add_collector(collect_bus, NULL);
    for (const cn_app_t *const *m = apps; *m; m++)
        if ((*m)->metrics != NULL)
            cn_metrics_add_collector((*m)->metrics, NULL);
    cn_mail_init(cfg);
    if (cn_jobs_start(cfg, apps, &err) != 0) /* after migrations and the modules' start */
        goto Exit;
    cn_realtime_init(server_state.n_loops);
    cn_http_init(router, cfg->cors_origins, cfg->trusted_proxies);
    cn_http_set_limits(cfg->rate_ip_per_min, cfg->rate_user_per_min, cfg->rate_auth_per_min);
    cn_auth_bootstrap_init(cfg->bootstrap_token, CN_BOOTSTRAP_TENANT);
    setup_globalconf(cfg);
    for (int i = 0; i < server_state.n_loops; i++) {
        server_state.loops[i].index = i;
        if (cn_open_loop_store(cfg, &server_state.loops[i].store, &err) != 0)
            goto Exit;
        cn_store_set_batching(server_state.loops[i].store, 1);
        /* its read requests run on fibers that share round trips (cn_http_end_turn) */
        cn_store_set_suspending(server_state.loops[i].store, 1);
    }
    if (cn_open_store(cfg, 0, &server_state.checkpoint_store, &err) != 0)
        goto Exit;
    print_listening(cfg, ports);
    pthread_mutex_init(&server_state.stop_lock, NULL);
    pthread_cond_init(&server_state.stop_cond, NULL);
    pthread_create(&server_state.checkpointer, NULL, checkpointer_main, NULL);
    cn_workers_start(cfg->workers, open_worker_store);
    h2o_barrier_init(&server_state.ready, (size_t)server_state.n_loops + 1);
    for (int i = 0; i < server_state.n_loops; i++)
        h2o_multithread_create_thread(&server_state.loops[i].tid, NULL, loop_main,
                                      &server_state.loops[i]);
    h2o_barrier_wait(&server_state.ready); /* a signal now reaches every loop */
    cn_log(CN_LOG_INFO, NULL, "cairn %s ready: %d loop threads, data in %s, started in %.1f ms",
           CAIRN_VERSION, server_state.n_loops, cfg->data_dir, (double)(cn_now_ns() - t0) / 1e6);
    int sig = wait_for_signal();
    cn_log(CN_LOG_INFO, NULL, "%s received: draining in-flight requests (at most %d s)",
           sig == SIGINT ? "SIGINT" : "SIGTERM", cfg->shutdown_timeout_s);
    rc = drain_and_join();
    cn_workers_stop();
    stop_checkpointer();
    cn_log(CN_LOG_INFO, NULL,
           rc == 0 ? "shutdown complete" : "shutdown deadline passed with open connections");
    rc = 0; /* connections cut at the deadline had their chance; the exit itself is clean */
Exit:
    cn_jobs_stop();         /* after the loops: running jobs finish, no new ones are claimed */
    close_bus();            /* nothing arrives from other nodes any more */
    cn_events_relay_stop(); /* and closes relay_store */
    if (err.msg[0])
        fprintf(stderr, "cairn: %s\n", err.msg);
    for (int i = 0; i < server_state.n_loops; i++)
        cn_store_close(server_state.loops[i].store);
    cn_store_close(server_state.checkpoint_store);
    free(server_state.loops);
    cn_http_free();
    cn_metrics_free();
    cn_cache_free();
    cn_system_free();
    cn_realtime_free();
    cn_mail_free();
    cn_events_reset();
    cn_router_free(router);
    if (server_state.globalconf.hosts != NULL)
        h2o_config_dispose(&server_state.globalconf);
    if (server_state.ssl_ctx)
        SSL_CTX_free(server_state.ssl_ctx);
    cn_instance_unlock(lock_fd); /* last: the database is closed */
    if (lock_fd == CN_EBUSY)     /* the CLI's exit codes: 75 another process holds it */
        return 75;
    /* the CLI's exit codes: 76 data newer than us, 78 configuration (also an engine this
     * build has no driver for), 75 a database server that does not answer (try again), 74
     * I/O */
    if (err.msg[0])
        return err.code == CN_ETOONEW                                 ? 76
               : err.code == CN_EINVAL || err.code == CN_EUNSUPPORTED ? 78
               : err.code == CN_EBUSY                                 ? 75
                                                                      : 74;
    return rc;
}
