/*
 * The web console: the files of its Vite build (console/ in the source tree), compiled into
 * the binary as a table (console_int.h, written by scripts/embed-console.mjs), served at
 * /console/. The page talks to the same public API as every other client; nothing here
 * holds state, reads a request body or touches the file system. A path is looked up as it
 * is, byte for byte, in the table, after the checks below refuse what no built file can be
 * named ("..", empty segments, control bytes): nothing is ever resolved or normalised.
 *
 * Caching follows Vite's layout: files under assets/ carry a hash of their content in
 * their name and are immutable for a year; index.html and the other files are revalidated
 * on every visit (their strong ETag makes that a 304), so an upgraded server never runs an
 * old page. A missing assets/ file is a 404, never the page (a stale chunk must fail
 * loudly); any other unknown path is a client-side route and gets index.html.
 */
#include "core/console.h"

#include "core/console_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int by_path(const void *key, const void *elem)
{
    return strcmp(key, ((const cn_console_file_t *)elem)->path);
}

const cn_console_file_t *cn__console_find(const char *path)
{
    return bsearch(path, cn_console_files, cn_console_n_files, sizeof(cn_console_files[0]),
                   by_path);
}

int cn__console_path_ok(const char *path, size_t len)
{
    if (len == 0 || len > CN_CONSOLE_PATH_MAX)
        return 0;
    for (size_t start = 0; start <= len;) {
        size_t end = start;
        while (end < len && path[end] != '/')
            end++;
        size_t seg = end - start;
        /* "a//b", ".", "..": a name no built file has, and one a resolver would reinterpret */
        if ((seg == 0 && end < len) || (seg == 1 && path[start] == '.') ||
            (seg == 2 && path[start] == '.' && path[start + 1] == '.'))
            return 0;
        start = end + 1;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f || path[i] == '\\')
            return 0;
    return 1;
}

/* The weight given to a coding in an Accept-Encoding element's parameters: 0 for "q=0",
 * "q=0.0" ... (refused), 1 otherwise. */
static int q_nonzero(const char *p, const char *end)
{
    for (; p < end; p++) {
        if ((*p == 'q' || *p == 'Q') && p + 1 < end && p[1] == '=') {
            for (p += 2; p < end && (*p == '0' || *p == '.'); p++)
                ;
            return p < end && *p >= '1' && *p <= '9';
        }
    }
    return 1;
}

int cn__console_accepts_gzip(const char *v, size_t len)
{
    int gzip = -1, any = -1; /* -1: not named */
    if (len == 0)
        return 0;
    const char *end = v + len;
    for (const char *p = v; p < end;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *name = p;
        while (p < end && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t n = (size_t)(p - name);
        const char *params = p;
        while (p < end && *p != ',')
            p++;
        if (n == 4 && strncasecmp(name, "gzip", 4) == 0)
            gzip = q_nonzero(params, p);
        else if (n == 1 && *name == '*')
            any = q_nonzero(params, p);
    }
    return gzip >= 0 ? gzip : any > 0;
}

/* If-None-Match (RFC 9110 13.1.2, weak comparison): "*" or the tag of the representation
 * this answer would carry. The other copy's tag is no match: a cache holding the gzip bytes
 * must not be told they do for a client that cannot decode them, nor the reverse. */
static int not_modified(cn_req_t *r, const char *etag)
{
    h2o_iovec_t v = cn_req_header(r, "if-none-match");
    size_t etag_len = strlen(etag);
    for (size_t i = 0; i < v.len;) {
        while (i < v.len && (v.base[i] == ' ' || v.base[i] == '\t' || v.base[i] == ','))
            i++;
        if (i + 2 <= v.len && v.base[i] == 'W' && v.base[i + 1] == '/')
            i += 2;
        size_t start = i;
        while (i < v.len && v.base[i] != ',' && v.base[i] != ' ' && v.base[i] != '\t')
            i++;
        size_t n = i - start;
        if ((n == 1 && v.base[start] == '*') ||
            (n == etag_len && memcmp(v.base + start, etag, n) == 0))
            return 1;
    }
    return 0;
}

static int send_file(cn_req_t *r, const cn_console_file_t *f)
{
    h2o_iovec_t ae = cn_req_header(r, "accept-encoding");
    int gzip = f->gzip != NULL && cn__console_accepts_gzip(ae.base, ae.len);
    const char *etag = gzip ? f->gzip_etag : f->etag;
    if (f->immutable)
        cn_reply_header(r, "cache-control", H2O_STRLIT("public, max-age=31536000, immutable"));
    else /* revalidate on every visit: an upgraded server must not run an old page */
        cn_reply_header(r, "cache-control", H2O_STRLIT("no-cache"));
    cn_reply_header(r, "etag", etag, strlen(etag));
    if (f->gzip != NULL) /* caches keep the two copies apart */
        cn_reply_header(r, "vary", H2O_STRLIT("accept-encoding"));
    if (not_modified(r, etag))
        return cn_reply_empty(r, 304);
    if (!gzip)
        return cn_reply_static(r, 200, f->content_type, (const char *)f->raw, f->raw_len);
    cn_reply_header(r, "content-encoding", H2O_STRLIT("gzip"));
    return cn_reply_static(r, 200, f->content_type, (const char *)f->gzip, f->gzip_len);
}

int cn_console_get(cn_req_t *r)
{
    const char *path = cn_req_param(r, "path");
    const cn_console_file_t *index = cn__console_find("index.html");
    if (index == NULL) /* the build guarantees it (embed-console.mjs) */
        return cn_fail(r, CN_ERR, "the console was built without index.html");
    if (path == NULL) /* /console and /console/ */
        return send_file(r, index);
    size_t len = strlen(path);
    if (!cn__console_path_ok(path, len))
        return cn_fail(r, CN_EINVAL,
                       "a console path has no empty, '.' or '..' segment, no control byte or "
                       "backslash, and at most %d bytes",
                       CN_CONSOLE_PATH_MAX);
    const cn_console_file_t *f = cn__console_find(path);
    if (f != NULL)
        return send_file(r, f);
    if (strncmp(path, "assets/", 7) == 0)
        return cn_fail(r, CN_ENOTFOUND,
                       "no console file at this path: the page is older than the server, "
                       "reload it");
    return send_file(r, index); /* a client-side route: the page routes it */
}
