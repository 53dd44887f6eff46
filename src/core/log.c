/*
 * Logging (see log.h). Lines are built in a thread-local buffer and written with a
 * single write() so concurrent threads never interleave within a line.
 */
#include "core/log.h"
#include "core/json.h"
#include "lib/formats.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int min_level = CN_LOG_INFO;
static int access_on = 1;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

static _Thread_local cn_buf_t access_buf;
static _Thread_local uint64_t access_oldest_ns; /* when the oldest buffered line was added */

#define ACCESS_FLUSH_BYTES 16384
#define ACCESS_FLUSH_NS (100u * 1000 * 1000)

void cn_log_init(int level, int access_enabled)
{
    min_level = level;
    access_on = access_enabled;
}

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(2, p, n);
        if (w <= 0)
            return; /* nowhere to report a failing stderr */
        p += w;
        n -= (size_t)w;
    }
}

static void append_ts(cn_buf_t *b)
{
    char ts[32];
    cn_format_rfc3339(cn_now_ms(), ts);
    cn_buf_appendf(b, "{\"ts\":\"%s\"", ts);
}

void cn_log(int level, const char *request_id, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    cn_buf_t b = {0};
    append_ts(&b);
    cn_buf_appendf(&b, ",\"level\":\"%s\",\"msg\":\"", level_names[level]);
    cn_buf_append_json_str(&b, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
    cn_buf_lit(&b, "\"");
    if (request_id != NULL) {
        cn_buf_lit(&b, ",\"request_id\":\"");
        cn_buf_append_json_str(&b, request_id, strlen(request_id));
        cn_buf_lit(&b, "\"");
    }
    cn_buf_lit(&b, "}\n");
    write_all(b.data, b.len);
    cn_buf_free(&b);
}

#define put_lit(b, s) cn_buf_put((b), (s), sizeof(s) - 1)

static void append_u64(cn_buf_t *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    cn_buf_put(b, tmp + i, sizeof(tmp) - i);
}

/* Hand-formatted: this runs once per request, where printf's parsing shows in profiles. */
void cn_log_access(const cn_access_t *a)
{
    if (!access_on)
        return;
    cn_buf_t *b = &access_buf;
    if (b->len == 0)
        access_oldest_ns = cn_now_ns();
    /* the timestamp text changes once per millisecond: format it once per millisecond */
    static _Thread_local struct {
        int64_t ms;
        size_t len;
        char text[32];
    } ts;
    int64_t now = cn_now_ms();
    if (now != ts.ms) {
        ts.len = cn_format_rfc3339(now, ts.text);
        ts.ms = now;
    }
    put_lit(b, "{\"ts\":\"");
    cn_buf_put(b, ts.text, ts.len);
    put_lit(b, "\",\"level\":\"info\",\"type\":\"access\",\"request_id\":\"");
    /* the request id (letters, digits, "-_.:"), the method and the route template are
     * checked or written by the server: copied; only the path holds a client's bytes */
    cn_buf_put(b, a->request_id, strlen(a->request_id));
    put_lit(b, "\",\"method\":\"");
    cn_buf_put(b, a->method, strlen(a->method));
    put_lit(b, "\",\"route\":\"");
    cn_buf_put(b, a->route, strlen(a->route));
    put_lit(b, "\",\"path\":\"");
    cn_buf_append_json_str(b, a->path, a->path_len > 512 ? 512 : a->path_len);
    put_lit(b, "\",\"status\":");
    append_u64(b, (uint64_t)a->status);
    put_lit(b, ",\"duration_us\":");
    append_u64(b, a->duration_us);
    put_lit(b, ",\"bytes\":");
    append_u64(b, a->bytes);
    put_lit(b, "}\n");
    if (b->len > ACCESS_FLUSH_BYTES)
        cn_log_flush();
}

void cn_log_thread_exit(void)
{
    cn_log_flush();
    cn_buf_free(&access_buf);
}

int cn_log_pending(void)
{
    return access_buf.len > 0;
}

void cn_log_flush_due(void)
{
    if (access_buf.len > 0 && cn_now_ns() - access_oldest_ns >= ACCESS_FLUSH_NS)
        cn_log_flush();
}

void cn_log_flush(void)
{
    if (access_buf.len == 0)
        return;
    write_all(access_buf.data, access_buf.len);
    access_buf.len = 0;
}
