/*
 * The cluster bus: what one node tells the others that share its database (committed
 * events, session revocations, cache tag invalidations, job doorbells). With
 * cluster.nats_url empty it is in-process: nothing leaves the process and every publish is
 * a no-op, since the one node already did the work itself. With NATS it is core NATS (no
 * JetStream): fire and forget, because whatever a lost message carried is also in the
 * database (docs/architecture.md, "The cluster bus").
 *
 * A node never receives its own messages. Publishing never blocks: messages go to a
 * bounded queue that a thread of the bus hands to the NATS client. Handlers run on the
 * bus's delivery thread, one message at a time in arrival order; they must be quick and
 * hand real work to the thread that owns it (a loop's queue, a condition variable).
 */
#ifndef CAIRN_CORE_BUS_H
#define CAIRN_CORE_BUS_H

#include "base/common.h"

#include <stddef.h>

typedef struct st_cn_bus_t cn_bus_t;

/** A message from another node: subject (without the bus's prefix) and its bytes. */
typedef void (*cn_bus_fn)(const char *subject, const char *data, size_t len, void *ud);

/** The bus connected (1) or lost its connection (0): from the client's own thread. */
typedef void (*cn_bus_state_fn)(int connected, void *ud);

/**
 * Opens a bus on url (comma-separated nats://HOST:PORT; "" = in-process, *out = NULL).
 * name names this node in the server's connection list; cluster (cluster.name) prefixes
 * every subject and the key-value bucket, so buses of different clusters on one NATS never
 * hear each other. A server that does not answer yet is not an error: the bus keeps trying
 * and cn_bus_is_connected says 0 until it answers.
 */
CN_MUST_CHECK int cn_bus_open(const char *url, const char *name, const char *cluster,
                              cn_bus_t **out, cn_err_t *err);

/** Stops delivering, sends what is queued (for up to a second) and closes. NULL: no-op. */
void cn_bus_close(cn_bus_t *b);

/**
 * Calls fn for every message of subject from other nodes (exact subject, e.g. "ev").
 * Before or after the bus connected; subscriptions survive reconnects.
 */
CN_MUST_CHECK int cn_bus_subscribe(cn_bus_t *b, const char *subject, cn_bus_fn fn, void *ud,
                                   cn_err_t *err);

/** Calls fn on every change of connection (at most 8 watchers). */
void cn_bus_watch(cn_bus_t *b, cn_bus_state_fn fn, void *ud);

/** Queues a message for the other nodes; never blocks. 0, or CN_EBUSY when the queue is full. */
int cn_bus_publish(cn_bus_t *b, const char *subject, const void *data, size_t len);

/** 1 while b is connected to a NATS server. */
int cn_bus_is_connected(const cn_bus_t *b);

/** Messages dropped because the send queue was full, and messages received. */
void cn_bus_counts(const cn_bus_t *b, uint64_t *dropped, uint64_t *received);

/* ---- a key-value bucket (JetStream), for state whose entries die with their node ---- */

/**
 * A change of the bucket's content, on the bucket's thread: key and its value, data NULL
 * when the key was deleted; key NULL to say "forget every key" (the bucket is being read
 * again from the start, after a reconnect). refresh is called every ttl/3 ms on the same
 * thread, for the owner to put its live keys again.
 */
typedef void (*cn_bus_kv_fn)(const char *key, const char *data, size_t len, void *ud);
typedef void (*cn_bus_kv_refresh_fn)(void *ud);

/**
 * Keeps a JetStream key-value bucket whose entries expire ttl_ms after their last put,
 * and watches it (named "<cluster>_<bucket>"): a thread of the bus makes (or finds) the
 * bucket once connected, sends the puts and deletes queued by cn_bus_kv_put, and calls fn
 * for every change. One bucket per bus. A server without JetStream is logged once; nothing
 * else fails.
 */
CN_MUST_CHECK int cn_bus_kv_start(cn_bus_t *b, const char *bucket, int64_t ttl_ms, cn_bus_kv_fn fn,
                                  cn_bus_kv_refresh_fn refresh, void *ud, cn_err_t *err);

/** Queues a put of key (data NULL: a delete); never blocks. Keys: [-_=.a-zA-Z0-9]. */
void cn_bus_kv_put(cn_bus_t *b, const char *key, const void *data, size_t len);

/* ---- the process's bus (the server's; NULL when in-process) ---- */

/** Makes b the process's bus (the server, at start; NULL at stop). */
void cn_bus_set_process(cn_bus_t *b);

/** The process's bus, or NULL when cluster.nats_url is empty. */
cn_bus_t *cn_bus_process(void);

/** 1 when the process has no NATS (nothing to lose) or its bus is connected. */
int cn_bus_connected(void);

/** cn_bus_publish on the process's bus; nothing when in-process, nor from a handler (what
 *  a node does in answer to another node's message, that node sent to everyone). */
void cn_bus_send(const char *subject, const void *data, size_t len);

#endif
