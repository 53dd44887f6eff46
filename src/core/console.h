/*
 * The web console's files (console.c): GET /console, /console/ and /console/{path...},
 * public (the page signs in through the API). The files are the console's Vite build,
 * compiled in (docs/console.md).
 */
#ifndef CAIRN_CORE_CONSOLE_H
#define CAIRN_CORE_CONSOLE_H

#include "core/http.h"

/** The longest path under /console/ looked up (decoded bytes); longer ones are refused. */
#define CN_CONSOLE_PATH_MAX 512

/**
 * The handler of the console's routes: the file at the path parameter "path" (none: the
 * page), with its caching headers, gzip when the client accepts it, 304 on a matching
 * If-None-Match; index.html for an unknown path (a client-side route) except under
 * assets/ (404); 400 for a path no built file can have (see cn__console_path_ok).
 */
int cn_console_get(cn_req_t *r);

/* For the unit tests. */

/** 1 when path (decoded, relative to /console/) may be looked up: not empty, at most
 * CN_CONSOLE_PATH_MAX bytes, no "." or ".." segment, no empty segment but a trailing
 * one, no control byte or backslash. */
int cn__console_path_ok(const char *path, size_t len);

/** 1 when an Accept-Encoding value (v, len; NULL, 0 when absent) allows gzip. */
int cn__console_accepts_gzip(const char *v, size_t len);

/** The embedded file at path (relative to /console/), or NULL. Returns static data. */
const struct st_cn_console_file_t *cn__console_find(const char *path);

#endif
