/* libFuzzer target: route matching on arbitrary paths (untrusted request targets). */
#include "core/router.h"

#include <stdlib.h>
#include <string.h>

static int handler(cn_req_t *r)
{
    return 0;
}

static const cn_route_t routes[] = {
    {CN_GET, "/healthz", handler},
    {CN_GET, "/api/v1/notes", handler},
    {CN_POST, "/api/v1/notes", handler},
    {CN_GET, "/api/v1/notes/{id}", handler},
    {CN_PATCH, "/api/v1/notes/{id}", handler},
    {CN_GET, "/api/v1/notes/search", handler},
    {CN_GET, "/api/v1/{tenant}/things/{id}/parts/{part}", handler},
    {0},
};

static cn_router_t *router;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (router == NULL) {
        router = cn_router_new();
        if (cn_router_add_table(router, routes, NULL) != 0)
            abort();
    }
    if (size < 1)
        return 0;
    cn_method_t m = (cn_method_t)(data[0] % CN_METHOD_MAX);
    const char *path = (const char *)data + 1;
    size_t len = size - 1;
    char *scratch = malloc(len + 1);
    cn_match_t match;
    int rc = cn_router_match(router, m, path, len, scratch, &match);
    if (rc == 0) {
        for (size_t i = 0; i < match.n_params; i++)
            if (strlen(match.params[i].value) != match.params[i].value_len)
                abort(); /* decoded values are NUL-free and terminated */
    } else if (rc != CN_ENOTFOUND && rc != CN_EINVAL) {
        abort();
    }
    char allow[96];
    cn_allow_header(match.allow_mask, allow, sizeof(allow));
    free(scratch);
    return 0;
}
