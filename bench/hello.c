/*
 * bench-hello: the smallest useful h2o server, used as the performance ceiling
 * that Cairn is compared against (see bench/run.sh).
 *
 *   bench-hello [--threads N] [--listen 127.0.0.1:PORT]
 *
 * One h2o_evloop + h2o_context per thread; every thread owns its own
 * SO_REUSEPORT listening socket so the kernel spreads connections. "/" answers
 * 200 text/plain "hello\n" over HTTP/1.1 keep-alive.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>

#define ACCEPT_BATCH 16

static const char BODY[] = "hello\n";

struct worker {
    pthread_t tid;
    int fd;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
};

static h2o_globalconf_t config;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    static h2o_generator_t generator = {NULL, NULL};
    h2o_iovec_t body = h2o_iovec_init(BODY, sizeof(BODY) - 1);

    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain"));
    h2o_start_response(req, &generator);
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    h2o_accept_ctx_t *accept_ctx = listener->data;
    for (int i = 0; i < ACCEPT_BATCH; ++i) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        h2o_accept(accept_ctx, sock);
    }
}

static int open_listener(const struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0 ||
        bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0 || listen(fd, SOMAXCONN) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static void *run_worker(void *arg)
{
    struct worker *w = arg;
    h2o_evloop_t *loop = h2o_evloop_create();

    h2o_context_init(&w->ctx, loop, &config);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = config.hosts;

    h2o_socket_t *listener = h2o_evloop_socket_create(loop, w->fd, H2O_SOCKET_FLAG_DONT_READ);
    listener->data = &w->accept_ctx;
    h2o_socket_read_start(listener, on_accept);

    while (h2o_evloop_run(loop, INT32_MAX) == 0)
        ;
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    _exit(0);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int parse_listen(const char *s, char *host, size_t hostsz, struct sockaddr_in *addr)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= hostsz)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535)
        return -1;
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return -1;
    return 0;
}

static void usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--threads N] [--listen 127.0.0.1:PORT]\n", argv0);
    exit(2);
}

int main(int argc, char **argv)
{
    long nthreads = sysconf(_SC_NPROCESSORS_ONLN);
    const char *listen_arg = "127.0.0.1:8090";

    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *end;
            nthreads = strtol(argv[++i], &end, 10);
            if (*end != '\0' || nthreads < 1 || nthreads > 1024)
                usage(argv[0]);
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_arg = argv[++i];
        } else {
            usage(argv[0]);
        }
    }
    if (nthreads < 1)
        nthreads = 1;

    char host[INET_ADDRSTRLEN];
    struct sockaddr_in addr;
    if (parse_listen(listen_arg, host, sizeof(host), &addr) != 0) {
        fprintf(stderr, "bad --listen value: %s (want IPv4:PORT)\n", listen_arg);
        return 2;
    }

    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    h2o_config_init(&config);
    h2o_hostconf_t *hostconf =
        h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = on_req;

    struct worker *workers = calloc((size_t)nthreads, sizeof(*workers));
    if (workers == NULL) {
        perror("calloc");
        return 1;
    }
    for (long i = 0; i < nthreads; ++i) {
        if ((workers[i].fd = open_listener(&addr)) < 0) {
            fprintf(stderr, "cannot listen on %s: %s\n", listen_arg, strerror(errno));
            return 1;
        }
    }
    for (long i = 0; i < nthreads; ++i) {
        int rc = pthread_create(&workers[i].tid, NULL, run_worker, &workers[i]);
        if (rc != 0) {
            fprintf(stderr, "pthread_create: %s\n", strerror(rc));
            return 1;
        }
    }

    fprintf(stderr, "bench-hello: %ld threads\n", nthreads);
    fprintf(stderr, "listening on http://%s:%u\n", host, (unsigned)ntohs(addr.sin_port));
    for (long i = 0; i < nthreads; ++i)
        pthread_join(workers[i].tid, NULL);
    return 0;
}
