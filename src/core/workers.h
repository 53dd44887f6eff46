/*
 * The worker pool: where slow work (password hashing, long reads such as a full-text
 * search, later outbound HTTP) runs so that no event loop ever blocks on it. A handler offloads a
 * function and returns CN_PENDING; the function runs on a worker thread, and its completion runs
 * back on the loop that owns the request, where the handler finishes the answer.
 */
#ifndef CAIRN_CORE_WORKERS_H
#define CAIRN_CORE_WORKERS_H

#include "core/http.h"
#include "store/store.h"

typedef struct st_cn_work_t cn_work_t;

/** Work run on a worker thread. It must not touch the request. */
typedef void (*cn_work_fn)(void *arg);

/**
 * Completion run on the request's loop. r is NULL when the client went away meanwhile:
 * then only release arg. Otherwise answer r (cn_reply_* or cn_req_finish_error).
 */
typedef void (*cn_done_fn)(cn_req_t *r, void *arg);

/**
 * From work running on a worker: that thread's own store, opened on first use and closed
 * when the pool stops (reads see everything committed before they start). NULL with err
 * set when it cannot be opened.
 */
cn_store_t *cn_worker_store(cn_err_t *err);

/** Queues work(arg) and arranges done(r, arg) on this loop. Returns CN_PENDING (base/status.h). */
int cn_req_offload(cn_req_t *r, cn_work_fn work, cn_done_fn done, void *arg);

/**
 * Parks r without queueing any work: done(r, arg) runs on this loop once some thread calls
 * cn_work_wake on the returned item (exactly once). For requests that wait on work already
 * running for others (one walk shared by its callers), so the wait holds no worker. The
 * handler then returns CN_PENDING; a parked item counts as in flight until woken.
 */
cn_work_t *cn_req_park(cn_req_t *r, cn_done_fn done, void *arg);

/** From any thread: runs a parked item's completion on its loop. item is gone afterwards. */
void cn_work_wake(cn_work_t *item);

/** From a completion: answers r with the problem for code (as a handler's return would). */
void cn_req_finish_error(cn_req_t *r, int code);

#endif
