/* Trusted proxies and X-Forwarded-For (see proxy.h). */
#include "core/proxy.h"
#include "base/common.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t addr[16]; /* IPv4 as IPv4-mapped IPv6, so one comparison serves both */
    int bits;
} block_t;

struct st_cn_proxies_t {
    block_t *blocks;
    size_t n;
};

/* Text → 16 bytes; *v4 tells whether it was IPv4 (its prefix lengths count from 96). */
static int parse_addr(const char *s, size_t len, uint8_t out[16], int *v4)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    struct in_addr a4;
    if (inet_pton(AF_INET, tmp, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        *v4 = 1;
        return 0;
    }
    *v4 = 0;
    return inet_pton(AF_INET6, tmp, out) == 1 ? 0 : -1;
}

static int parse_block(const char *tok, block_t *b)
{
    const char *slash = strchr(tok, '/');
    size_t len = slash ? (size_t)(slash - tok) : strlen(tok);
    int v4;
    if (parse_addr(tok, len, b->addr, &v4) != 0)
        return -1;
    int max = v4 ? 32 : 128, bits = max;
    if (slash) {
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || v < 0 || v > max)
            return -1;
        bits = (int)v;
    }
    b->bits = v4 ? bits + 96 : bits;
    return 0;
}

int cn_proxies_parse(const char *list, cn_proxies_t **out, char *bad, size_t cap)
{
    *out = NULL;
    cn_proxies_t *p = cn_calloc(1, sizeof(*p));
    char *copy = cn_strdup(list ? list : ""), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, ", ", &save); tok && rc == 0;
         tok = strtok_r(NULL, ", ", &save)) {
        p->blocks = cn_realloc(p->blocks, (p->n + 1) * sizeof(block_t));
        if (parse_block(tok, &p->blocks[p->n]) != 0) {
            snprintf(bad, cap, "%s", tok);
            rc = -1;
        } else {
            p->n++;
        }
    }
    free(copy);
    if (rc != 0 || p->n == 0) {
        cn_proxies_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void cn_proxies_free(cn_proxies_t *p)
{
    if (p == NULL)
        return;
    free(p->blocks);
    free(p);
}

static int in_block(const block_t *b, const uint8_t a[16])
{
    int full = b->bits / 8, rest = b->bits % 8;
    if (memcmp(a, b->addr, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (b->addr[full] & mask);
}

static int trusted(const cn_proxies_t *p, const uint8_t a[16])
{
    for (size_t i = 0; p && i < p->n; i++)
        if (in_block(&p->blocks[i], a))
            return 1;
    return 0;
}

int cn_proxies_trust(const cn_proxies_t *p, const char *addr)
{
    uint8_t a[16];
    int v4;
    return parse_addr(addr, strlen(addr), a, &v4) == 0 && trusted(p, a);
}

static void format_addr(const uint8_t a[16], int v4, char *out, size_t cap)
{
    char tmp[INET6_ADDRSTRLEN];
    if (inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? a + 12 : a, tmp, sizeof(tmp)) == NULL)
        tmp[0] = '-', tmp[1] = '\0';
    snprintf(out, cap, "%s", tmp);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

void cn_proxies_client(const cn_proxies_t *p, const char *peer, const char *xff, size_t xff_len,
                       char *out, size_t cap)
{
    snprintf(out, cap, "%s", peer);
    uint8_t a[16];
    int v4;
    if (p == NULL || xff == NULL || !cn_proxies_trust(p, peer))
        return;
    size_t end = xff_len;
    for (;;) { /* from the right: each entry was appended by the hop after it */
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        size_t s = start, e = end;
        while (s < e && is_space(xff[s]))
            s++;
        while (e > s && is_space(xff[e - 1]))
            e--;
        if (parse_addr(xff + s, e - s, a, &v4) != 0)
            return; /* not an address: the trusted hop that passed it on is the client */
        format_addr(a, v4, out, cap);
        if (!trusted(p, a) || start == 0)
            return;
        end = start - 1;
    }
}
