/*
 * Worker pool (see workers.h). Items travel: loop -> shared queue (mutex + condvar) ->
 * worker -> the loop's h2o multithread queue -> completion on the loop. Only the owning
 * loop ever touches item->req, so a request that dies meanwhile just clears that pointer
 * (in the request's dispose callback) and its completion sees NULL.
 */
#include "core/workers_int.h"
#include "core/log.h"
#include "core/http_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct st_cn_work_t {
    h2o_multithread_message_t msg; /* first: the loop receives it as a message */
    h2o_linklist_t queue_link;
    h2o_multithread_receiver_t *reply_to;
    cn_req_t *req; /* NULL once the request is gone */
    cn_work_fn work;
    cn_done_fn done;
    void *arg;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    h2o_linklist_t queue;
    pthread_t *threads;
    int n;
    int stopping;
    int in_flight;          /* queued or running items */
    pthread_cond_t settled; /* signalled when in_flight drops to 0 */
    cn_store_open_fn open_store;
} worker_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static _Thread_local h2o_multithread_receiver_t *my_receiver;
static _Thread_local cn_store_t *my_store; /* a worker's */

cn_store_t *cn_worker_store(cn_err_t *err)
{
    if (my_store == NULL && worker_pool.open_store == NULL)
        cn_err_set(err, CN_ERR, "the worker pool has no store");
    else if (my_store == NULL)
        worker_pool.open_store(&my_store, err);
    return my_store;
}

static void *worker_main(void *unused)
{
    pthread_mutex_lock(&worker_pool.lock);
    for (;;) {
        while (h2o_linklist_is_empty(&worker_pool.queue) && !worker_pool.stopping)
            pthread_cond_wait(&worker_pool.cond, &worker_pool.lock);
        if (h2o_linklist_is_empty(&worker_pool.queue))
            break;
        cn_work_t *item = H2O_STRUCT_FROM_MEMBER(cn_work_t, queue_link, worker_pool.queue.next);
        h2o_linklist_unlink(&item->queue_link);
        pthread_mutex_unlock(&worker_pool.lock);
        item->work(item->arg);
        h2o_multithread_send_message(item->reply_to, &item->msg);
        pthread_mutex_lock(&worker_pool.lock);
        if (--worker_pool.in_flight == 0)
            pthread_cond_broadcast(&worker_pool.settled);
    }
    pthread_mutex_unlock(&worker_pool.lock);
    cn_store_close(my_store);
    my_store = NULL;
    return NULL;
}

void cn_workers_start(int n, cn_store_open_fn open_store)
{
    worker_pool.open_store = open_store;
    h2o_linklist_init_anchor(&worker_pool.queue);
    pthread_cond_init(&worker_pool.settled, NULL);
    worker_pool.stopping = 0;
    worker_pool.n = n;
    worker_pool.threads = cn_calloc((size_t)n, sizeof(pthread_t));
    for (int i = 0; i < n; i++)
        pthread_create(&worker_pool.threads[i], NULL, worker_main, NULL);
}

void cn_workers_stop(void)
{
    pthread_mutex_lock(&worker_pool.lock);
    worker_pool.stopping = 1;
    pthread_cond_broadcast(&worker_pool.cond);
    pthread_mutex_unlock(&worker_pool.lock);
    for (int i = 0; i < worker_pool.n; i++)
        pthread_join(worker_pool.threads[i], NULL);
    free(worker_pool.threads);
    worker_pool.threads = NULL;
    worker_pool.n = 0;
}

void cn_workers_settle(void)
{
    pthread_mutex_lock(&worker_pool.lock);
    while (worker_pool.in_flight > 0)
        pthread_cond_wait(&worker_pool.settled, &worker_pool.lock);
    pthread_mutex_unlock(&worker_pool.lock);
}

void cn_workers_bind_loop(h2o_multithread_receiver_t *receiver)
{
    my_receiver = receiver;
}

void cn_workers_on_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    for (h2o_linklist_t *node = messages->next, *next; node != messages; node = next) {
        next = node->next; /* read before the unlink: the analyzer follows h2o's list so */
        cn_work_t *item = H2O_STRUCT_FROM_MEMBER(cn_work_t, msg.link, node);
        h2o_linklist_unlink(&item->msg.link);
        if (item->req != NULL) {
            cn__req_int(item->req)->work = NULL;
            cn__http_complete(item->req, item->done, item->arg);
        } else {
            item->done(NULL, item->arg);
        }
        free(item);
    }
}

/* An item that answers r on this loop with done(arg), held by r until then. */
static cn_work_t *request_item(cn_req_t *r, cn_done_fn done, void *arg)
{
    cn_work_t *item = cn_calloc(1, sizeof(*item));
    item->reply_to = my_receiver;
    item->req = r;
    item->done = done;
    item->arg = arg;
    cn__req_int(r)->work = item;
    return item;
}

int cn_req_offload(cn_req_t *r, cn_work_fn work, cn_done_fn done, void *arg)
{
    cn_work_t *item = request_item(r, done, arg);
    item->work = work;
    pthread_mutex_lock(&worker_pool.lock);
    worker_pool.in_flight++;
    h2o_linklist_insert(&worker_pool.queue, &item->queue_link);
    pthread_cond_signal(&worker_pool.cond);
    pthread_mutex_unlock(&worker_pool.lock);
    return CN_PENDING;
}

cn_work_t *cn_req_park(cn_req_t *r, cn_done_fn done, void *arg)
{
    cn_work_t *item = request_item(r, done, arg);
    pthread_mutex_lock(&worker_pool.lock);
    worker_pool.in_flight++;
    pthread_mutex_unlock(&worker_pool.lock);
    return item;
}

void cn_work_wake(cn_work_t *item)
{
    h2o_multithread_send_message(item->reply_to, &item->msg);
    pthread_mutex_lock(&worker_pool.lock);
    if (--worker_pool.in_flight == 0)
        pthread_cond_broadcast(&worker_pool.settled);
    pthread_mutex_unlock(&worker_pool.lock);
}

void cn_work_detach(cn_work_t *item)
{
    item->req = NULL;
}
