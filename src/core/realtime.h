/*
 * The realtime hub: WebSocket (GET /api/v1/realtime) and Server-Sent Events
 * (GET /api/v1/realtime/sse) delivery of committed events, protocol in docs/realtime.md.
 * Connections stay on the loop that accepted them. Each committed event is posted once
 * to every loop (h2o multithread queue) and each loop fans it out to its own
 * subscribers; every connection has a bounded send queue.
 */
#ifndef CAIRN_CORE_REALTIME_H
#define CAIRN_CORE_REALTIME_H

#include "core/module.h"

#include <h2o.h>

/** The hub's module: its tables, routes and permission. */
extern const cn_app_t cn_realtime_app;

/** Prepares n loop slots (before the loops start). */
void cn_realtime_init(int n_loops);
/** On a loop thread: binds slot index to the loop (events arrive through ctx's queue). */
void cn_realtime_bind_loop(int index, h2o_context_t *ctx, cn_store_t *store);
/** Server shutdown on this loop: closes its connections (1001) and stops deliveries. */
void cn_realtime_loop_shutdown(void);
/** The loop is ending: no more deliveries reach it, and its clients are dropped. */
void cn_realtime_loop_stop(void);
/** Frees the loop's hub after the evloop run that followed cn_realtime_loop_stop. */
void cn_realtime_loop_free(void);
void cn_realtime_free(void);

/** Open WebSocket and SSE connections of the process. */
long cn_realtime_connections(void);

/** Open connections of a user in a tenant (presence). */
int cn_realtime_presence(const char *tenant_id, const char *subject);

/**
 * One parsed client message (the protocol's parser, also fed by the fuzz target).
 * Returns 0, or -1 with why set to a message for the client.
 */
typedef enum { RT_AUTH = 1, RT_SUBSCRIBE, RT_UNSUBSCRIBE, RT_PING } cn_rt_op_t;
typedef struct st_cn_rt_msg_t {
    cn_rt_op_t op;
    char channel[CN_CHANNEL_MAX + 1];
    int64_t since; /* -1: not given */
    char epoch[CN_EPOCH_LEN + 1];
    char token[4097];
} cn_rt_msg_t;
int cn_rt_parse(const char *text, size_t len, cn_rt_msg_t *m, char *why, size_t why_cap);

#endif
