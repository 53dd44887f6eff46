/*
 * Request-head scanner (see reqhead.h). It reads a head the server's HTTP parser has
 * already accepted, so it only splits lines and compares names; it never allocates and
 * never reads past len.
 */
#include "lib/reqhead.h"

#include <string.h>
#include <strings.h>

/* the line's name is exactly `name` (case-insensitively) followed by ':' */
static int named(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

int cn_reqhead_scan(const char *buf, size_t len, cn_reqhead_t *out)
{
    memset(out, 0, sizeof(*out));
    /* one empty line before the request line is skipped, as HTTP parsers do (some
     * clients send CRLF after a body) */
    size_t pos = len >= 2 && buf[0] == '\r' && buf[1] == '\n' ? 2 : len >= 1 && buf[0] == '\n';
    for (int first = 1;; first = 0) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (nl == NULL)
            return -1;
        const char *line = buf + pos;
        size_t line_len = (size_t)(nl - line);
        pos = (size_t)(nl - buf) + 1;
        if (line_len > 0 && line[line_len - 1] == '\r')
            line_len--;
        if (first)
            continue; /* the request line */
        if (line_len == 0)
            break;
        /* most lines are none of the three: their first letter says so without a compare */
        char first_lc = (char)(line[0] | 0x20);
        if (line[0] == ' ' || line[0] == '\t')
            out->folded++;
        else if (first_lc != 'c' && first_lc != 't' && first_lc != 'h')
            continue;
        else if (named(line, line_len, "content-length"))
            out->content_length++;
        else if (named(line, line_len, "transfer-encoding"))
            out->transfer_encoding++;
        else if (named(line, line_len, "host"))
            out->host++;
    }
    out->head_len = pos;
    return 0;
}
