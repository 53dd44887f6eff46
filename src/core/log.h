/*
 * JSON-lines logs on stderr: application events and the access log. Application lines
 * are written at once; access lines are buffered per thread and written when 16 KiB
 * have gathered or the oldest is 100 ms old, so logging costs one write() per batch.
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
    const char *request_id; /* letters, digits and "-_.:" only: written as it is */
    const char *method;
    const char *route; /* template, or "-" when no route matched; written as it is */
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

/** True when this thread holds unwritten access lines. */
int cn_log_pending(void);

/** Writes out this thread's lines once the oldest is 100 ms old (or 16 KiB are held). */
void cn_log_flush_due(void);

/** Flushes and releases this thread's buffer (call before a loop thread exits). */
void cn_log_thread_exit(void);

#endif
