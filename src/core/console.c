/*
 * The web console: three static files (console/ in the source tree, compiled into the
 * binary by CMake) served at /console. The page talks to the same public API as every
 * other client; it holds no server-side state of its own.
 */
#include "core/console.h"

/* made by xxd -i (generated/console_files.c) */
extern unsigned char index_html[], app_js[], app_css[];
extern unsigned int index_html_len, app_js_len, app_css_len;

static int send_file(cn_req_t *r, const char *type, const unsigned char *data, unsigned int len)
{
    /* revalidate on every visit: an upgraded server must not run an old page */
    cn_reply_header(r, "cache-control", H2O_STRLIT("no-cache"));
    return cn_reply_raw(r, 200, type, (const char *)data, len);
}

int cn_console_page(cn_req_t *r)
{
    return send_file(r, "text/html; charset=utf-8", index_html, index_html_len);
}

int cn_console_script(cn_req_t *r)
{
    return send_file(r, "text/javascript; charset=utf-8", app_js, app_js_len);
}

int cn_console_style(cn_req_t *r)
{
    return send_file(r, "text/css; charset=utf-8", app_css, app_css_len);
}
