/*
 * JSON-lines logs on stderr: application events and the access log. Application lines
 * are written at once; access lines are buffered per thread and flushed by the event
 * loop after each iteration, so logging costs one write() per batch of requests.
 * Callers must never pass secrets (tokens, passwords) into a log line.
 */
#ifndef CAIRN_CORE_LOG_H
#define CAIRN_CORE_LOG_H

#include "core/config.h"

/** Sets the lowest level written and whether access lines are written. */
void cn_log_init(int level, int access_enabled);

/** Writes {"ts","level","msg"[,"request_id"]}. request_id may be NULL. */
void cn_log(int level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef struct st_cn_access_t {
    const char *request_id;
    const char *method;
    const char *route; /* template, or "-" when no route matched */
    const char *path;  /* raw path without the query string (may hold client bytes) */
    size_t path_len;
    int status;
    uint64_t duration_us;
    uint64_t bytes;
} cn_access_t;

/** Appends one access line to this thread's buffer. */
void cn_log_access(const cn_access_t *a);

/** Writes out this thread's buffered lines. */
void cn_log_flush(void);

/** Flushes and releases this thread's buffer (call before a loop thread exits). */
void cn_log_thread_exit(void);

#endif
