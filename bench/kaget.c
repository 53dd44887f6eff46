/*
 * kaget: a fixed number of keep-alive GETs, for counting a server's instructions per
 * request under callgrind (bench/callgrind.sh). wrk runs for a time, not a count, so the
 * number of requests a slowed-down server answers would vary; this sends exactly N over
 * CONNS connections, each with one request in flight, and exits non-zero on any answer
 * that is not 200.
 *
 *   kaget HOST PORT PATH N CONNS [BEARER_TOKEN]
 *
 * Compiled by the script with cc. It reads answers framed by Content-Length only (what
 * both servers send for these paths).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int fd;
    size_t len;
    char buf[65536];
} conn_t;

/* Takes one whole answer off the front of c's buffer: 1 and its status, or 0 if incomplete. */
static int take_answer(conn_t *c, int *status)
{
    c->buf[c->len] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (end == NULL)
        return 0;
    *status = atoi(c->buf + 9);
    size_t body = 0;
    char *cl = strcasestr(c->buf, "\ncontent-length:");
    if (cl != NULL && cl < end)
        body = strtoul(cl + 16, NULL, 10);
    size_t total = (size_t)(end + 4 - c->buf) + body;
    if (c->len < total)
        return 0;
    memmove(c->buf, c->buf + total, c->len - total);
    c->len -= total;
    return 1;
}

static int open_conn(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (fd < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("kaget: connect");
        exit(2);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            perror("kaget: write");
            exit(2);
        }
        p += w;
        n -= (size_t)w;
    }
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: kaget HOST PORT PATH N CONNS [BEARER_TOKEN]\n");
        return 2;
    }
    const char *host = argv[1], *path = argv[3];
    int port = atoi(argv[2]), nc = atoi(argv[5]);
    long n = atol(argv[4]), sent = 0, done = 0;
    char req[2048];
    int rl = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\n%s%s%s\r\n", path, host,
                      port, argc > 6 ? "Authorization: Bearer " : "", argc > 6 ? argv[6] : "",
                      argc > 6 ? "\r\n" : "");
    if (nc < 1 || rl <= 0 || (size_t)rl >= sizeof(req)) {
        fprintf(stderr, "kaget: bad arguments\n");
        return 2;
    }
    conn_t *cs = calloc((size_t)nc, sizeof(conn_t));
    struct pollfd *pf = calloc((size_t)nc, sizeof(*pf));
    for (int i = 0; i < nc; i++) {
        cs[i].fd = pf[i].fd = open_conn(host, port);
        pf[i].events = POLLIN;
        if (sent < n)
            send_all(cs[i].fd, req, (size_t)rl), sent++;
    }
    while (done < n) {
        if (poll(pf, (nfds_t)nc, 30000) <= 0) {
            fprintf(stderr, "kaget: no answer for 30 s\n");
            return 3;
        }
        for (int i = 0; i < nc; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            conn_t *c = &cs[i];
            ssize_t k = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
            if (k <= 0) {
                fprintf(stderr, "kaget: the server closed a connection\n");
                return 4;
            }
            c->len += (size_t)k;
            int status;
            while (take_answer(c, &status)) {
                if (status != 200) {
                    fprintf(stderr, "kaget: status %d\n", status);
                    return 1;
                }
                done++;
                if (sent < n)
                    send_all(c->fd, req, (size_t)rl), sent++;
            }
        }
    }
    return 0;
}
