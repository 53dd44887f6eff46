/*
 * The request pipeline as the kernel drives it (http.h is what handlers see). Only the
 * files that run requests include this: http.c, server.c, workers.c and the realtime hub.
 * It holds the bookkeeping the pipeline keeps beside each cn_req_t and the calls the
 * server makes into http.c (start-up, one request, the end of a loop turn).
 */
#ifndef CAIRN_CORE_HTTP_INT_H
#define CAIRN_CORE_HTTP_INT_H

#include "core/http.h"
#include "store/store_int.h"

typedef struct st_cn_work_t cn_work_t;

/**
 * A request as the kernel holds it: the handler's cn_req_t first, then what only the
 * pipeline reads and writes. One allocation in the h2o request's pool (or on the stack
 * for a request made up by the kernel); a cn_req_t the kernel hands out always sits in
 * one of these, so cn__req_int() may step back to it.
 */
typedef struct st_cn_req_int_t {
    cn_req_t pub;
    int route_index;          /* the route's metrics slot, -1 before routing */
    uint64_t start_ns;        /* when the request arrived (its logged duration) */
    char client_ip[48];       /* set by cn_req_peer on first use */
    int responded;            /* an answer was given (it may still be held for the commit) */
    int retries;              /* runs of its handler that met a busy database (CN_EBUSY) */
    int in_turn_writes;       /* its handler ran in this turn's batch (cn_http_end_turn) */
    int careful;              /* run again after a write sent ahead failed: no writes ahead */
    cn_work_t *work;          /* offloaded work whose completion has not run yet */
    h2o_iovec_t pending_body; /* a held answer's body, in the request pool */
    h2o_linklist_t pending;   /* queued for the turn's batch, or held for its commit */
} cn_req_int_t;

/** The kernel's part of a request the kernel created. */
static inline cn_req_int_t *cn__req_int(cn_req_t *r)
{
    return H2O_STRUCT_FROM_MEMBER(cn_req_int_t, pub, r);
}

/** Prepares the request pipeline (router and CORS allow-list). */
void cn_http_init(const cn_router_t *router, const char *cors_origins, const char *trusted_proxies);
void cn_http_free(void);

/** Creates the process-wide rate limiters (requests per minute). */
void cn_http_set_limits(int ip_per_min, int user_per_min, int auth_per_min);

/** Handles one request on the calling loop, answering it (always returns 0). */
int cn_http_handle(h2o_req_t *req, cn_store_t *store);

/**
 * Ends an event-loop turn: runs the turn's queued writes, commits the store's batch
 * transaction and sends the answers that waited for it (or 503 problems if the commit
 * failed). Returns CN_TURN_ANSWERED when it answered anything: the loop must then poll
 * again without sleeping, because h2o runs the completions of those writes (which re-arm
 * reading on keep-alive connections) only inside h2o_evloop_run. CN_TURN_WAITING: another
 * writer held the write lock, the queued writes wait for a later turn (the store's waker
 * ends the loop's poll when the lock is free; poll for at most a millisecond anyway).
 * Otherwise CN_OK. (Both values are in base/status.h.)
 */
int cn_http_end_turn(cn_store_t *store);

/**
 * Runs an offloaded request's completion done(r, arg) on its loop inside a unit of work of
 * its own, as a handler runs (kept if it answers with a success, else rolled back).
 */
void cn__http_complete(cn_req_t *r, void (*done)(cn_req_t *, void *), void *arg);

/** Releases the calling loop thread's reply buffers (before the thread exits). */
void cn_http_thread_exit(void);

/** Rewrites h2o's own error answers (413, 400) on path into problem+json. */
void cn_error_filter_register(h2o_pathconf_t *path, size_t max_body);

#endif
