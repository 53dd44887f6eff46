/*
 * The worker pool as the kernel runs it (workers.h is what handlers use): starting and
 * stopping the threads, binding each event loop's completion queue, and detaching work
 * whose request died.
 */
#ifndef CAIRN_CORE_WORKERS_INT_H
#define CAIRN_CORE_WORKERS_INT_H

#include "core/http_int.h"
#include "core/workers.h"

/** Opens a store for a worker thread (with the server's options). */
typedef int (*cn_store_open_fn)(cn_store_t **out, cn_err_t *err);

/** Starts n worker threads (n >= 1); open_store (may be NULL) serves cn_worker_store. */
void cn_workers_start(int n, cn_store_open_fn open_store);

/** Finishes queued work and joins the threads. */
void cn_workers_stop(void);

/**
 * Waits until no work is queued or running. A loop calls it before tearing down its h2o
 * queue, so no worker ever posts a completion into a freed queue.
 */
void cn_workers_settle(void);

/** Binds the calling loop thread: completions for its requests arrive through receiver. */
void cn_workers_bind_loop(h2o_multithread_receiver_t *receiver);
/** The receiver callback a loop registers on its h2o queue. */
void cn_workers_on_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);

/** Called when a request dies before its completion ran: the completion gets r == NULL. */
void cn_work_detach(cn_work_t *item);

#endif
