/* libFuzzer target: X-Forwarded-For walking (untrusted header from any client). */
#include "core/proxy.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cn_proxies_t *p;
    if (p == NULL) {
        char bad[64];
        if (cn_proxies_parse("127.0.0.1, 10.0.0.0/8, fd00::/8", &p, bad, sizeof(bad)) != 0)
            abort();
    }
    char out[48];
    cn_proxies_client(p, "127.0.0.1", (const char *)data, size, out, sizeof(out));
    /* the answer is always an address: the peer's or one parsed from the header */
    uint8_t a[16];
    if (inet_pton(AF_INET, out, a) != 1 && inet_pton(AF_INET6, out, a) != 1)
        abort();
    char list[256];
    size_t n = size < sizeof(list) - 1 ? size : sizeof(list) - 1;
    memcpy(list, data, n);
    list[n] = '\0';
    cn_proxies_t *q = NULL;
    char bad[64];
    if (cn_proxies_parse(list, &q, bad, sizeof(bad)) == 0)
        cn_proxies_trust(q, "10.1.2.3");
    cn_proxies_free(q);
    return 0;
}
