/*
 * libFuzzer target: the request-head scanner against the HTTP/1 parser the server runs
 * (picohttpparser, exported by libh2o). Whenever that parser accepts a head, the scanner
 * must find the same end and count exactly the Content-Length, Transfer-Encoding and
 * continuation lines the parser saw.
 */
#include "lib/reqhead.h"

#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

/* picohttpparser's interface (libh2o exports it; its header is not installed) */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len,
                      const char **path, size_t *path_len, int *minor_version,
                      struct phr_header *headers, size_t *num_headers, size_t last_len);

static int is(const struct phr_header *h, const char *name, size_t n)
{
    return h->name != NULL && h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data, *method, *path;
    size_t method_len, path_len, n_headers = 100;
    int minor;
    struct phr_header headers[100];
    cn_reqhead_t h;
    int scanned = cn_reqhead_scan(buf, size, &h);
    int parsed = phr_parse_request(buf, size, &method, &method_len, &path, &path_len, &minor,
                                   headers, &n_headers, 0);
    if (parsed <= 0)
        return 0;
    if (scanned != 0 || h.head_len != (size_t)parsed)
        abort();
    unsigned cl = 0, te = 0, host = 0, folded = 0;
    for (size_t i = 0; i < n_headers; i++) {
        cl += is(&headers[i], "content-length", 14);
        te += is(&headers[i], "transfer-encoding", 17);
        host += is(&headers[i], "host", 4);
        folded += headers[i].name == NULL;
    }
    if (cl != h.content_length || te != h.transfer_encoding || host != h.host || folded != h.folded)
        abort();
    return 0;
}
