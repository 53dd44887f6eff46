/*
 * The web console's static files (console.c): GET /console, /console/app.js and
 * /console/app.css, public (the page signs in through the API).
 */
#ifndef CAIRN_CORE_CONSOLE_H
#define CAIRN_CORE_CONSOLE_H

#include "core/http.h"

int cn_console_page(cn_req_t *r);
int cn_console_script(cn_req_t *r);
int cn_console_style(cn_req_t *r);

#endif
