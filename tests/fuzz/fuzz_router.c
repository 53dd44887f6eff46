/* libFuzzer target: route matching on arbitrary paths (untrusted request targets), with
 * catch-all routes, and the console's check of what its catch-all takes: a value it lets
 * through never has a "." or ".." segment. */
#include "core/console.h"
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
    {CN_GET, "/console", handler},
    {CN_GET, "/console/", handler},
    {CN_GET, "/console/{path...}", handler},
    {CN_PUT, "/api/v1/files/{id}/{rest...}", handler},
    {0},
};

static cn_router_t *router;

/* what the console may look up: no "." or ".." segment, no empty one but the last */
static void check_console_path(const char *v)
{
    for (const char *seg = v;;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.') ||
            (len == 0 && end != NULL) || strchr(v, '\\') != NULL)
            abort();
        if (end == NULL)
            return;
        seg = end + 1;
    }
}

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
            if (strlen(match.params[i].value) != match.params[i].value_len ||
                match.params[i].value_len == 0)
                abort(); /* decoded values are NUL-free, terminated and not empty */
        const char *v = cn_match_param(&match, "path");
        if (v != NULL && cn__console_path_ok(v, strlen(v)))
            check_console_path(v);
    } else if (rc != CN_ENOTFOUND && rc != CN_EINVAL) {
        abort();
    }
    char allow[96];
    cn_allow_header(match.allow_mask, allow, sizeof(allow));
    free(scratch);
    return 0;
}
