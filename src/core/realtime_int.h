/*
 * What the files of the realtime hub share; included by src/core/realtime*.c only, never
 * by an app (apps see realtime.h and events.h).
 *
 *   realtime.c           the hub: clients, their send queues, subscriptions, the fan-out of
 *                        committed events to every loop, the tick, the module and metrics
 *   realtime_proto.c     the protocol's messages: parsing what clients send, encoding what
 *                        the hub sends (events, positions, errors, ready)
 *   realtime_ws.c        WebSocket: the upgrade, framing through wslay, close and ping
 *   realtime_sse.c       Server-Sent Events: the stream, Last-Event-ID, gone peers
 *   realtime_presence.c  who is connected, per tenant and user, and its route
 *   realtime_caps.c      connection caps: the process, tenants, principals, addresses
 *
 * Every function here runs on the loop that owns the client, unless it says otherwise.
 */
#ifndef CAIRN_CORE_REALTIME_INT_H
#define CAIRN_CORE_REALTIME_INT_H

#include "core/http.h"
#include "core/realtime.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <wslay/wslay.h>

#define AUTH_TIMEOUT_MS 10000
#define TICK_MS 1000

enum { CLIENT_WS = 1, CLIENT_SSE = 2 };

typedef struct st_hub_t hub_t;

typedef struct {
    char *key;        /* tenant '\n' channel */
    const void *chan; /* this loop's chansubs_t of key: found by address when delivering */
    int64_t last_seq;
} sub_t;

/* Who a client is, without cn_principal_t's fixed scope buffer (connections are many). */
typedef struct {
    char tenant_id[64], subject[64], session_id[40], role[CN_ROLE_NAME_MAX + 1];
    unsigned char is_key, is_operator, mfa;
    char scopes[]; /* an API key's permissions */
} who_t;

typedef struct st_client_t {
    hub_t *hub;
    int kind;
    h2o_socket_t *sock; /* WebSocket */
    wslay_event_context_ptr ws;
    h2o_req_t *req; /* event stream */
    h2o_generator_t gen;
    who_t *principal; /* NULL until authenticated */
    sub_t *subs;
    int n_subs;
    cn_buf_t out;     /* waiting to be written */
    cn_buf_t writing; /* being written */
    int busy;         /* a write is in flight */
    int wslay_busy;   /* wslay read frames or was given a control frame: ask it what to send */
    int closing;      /* close once what is queued has left */
    int dead;
    unsigned char has_slot;      /* holds one of realtime.max_connections */
    unsigned char has_principal; /* counted for its principal and tenant */
    unsigned char has_anon;      /* counted as not yet authenticated for its client's address */
    char anon_key[56];           /* "a\n<client address>" while has_anon */
    size_t accounted; /* of its queued bytes, those counted in cn__realtime.queued_total */
    uint64_t opened_ms, last_rx_ms, last_ping_ms, closing_ms;
    h2o_linklist_t link;  /* hub->clients */
    h2o_linklist_t dirty; /* hub->dirty: has bytes to flush */
} client_t;

/* subscribers of one channel on one loop */
typedef struct st_chansubs_t {
    struct st_chansubs_t *next;
    uint64_t hash;
    client_t **v;
    size_t n, cap;
    char key[];
} chansubs_t;

typedef struct {
    h2o_multithread_message_t super;
    struct st_delivery_t *d;
    hub_t *to;
} dmsg_t;

typedef struct st_delivery_t {
    atomic_int refs;
    int64_t seq;
    char epoch[CN_EPOCH_LEN + 1];
    uint64_t hash;
    char *key;
    char *json; /* the WebSocket message */
    size_t json_len;
    char *sse; /* the event-stream record */
    size_t sse_len;
    dmsg_t msgs[];
} delivery_t;

struct st_hub_t {
    int bound;
    h2o_loop_t *loop;
    h2o_context_t *ctx;
    h2o_multithread_receiver_t receiver;
    cn_store_t *store;  /* the loop's connection: authentication */
    cn_store_t *reader; /* sees every commit so far: history */
    h2o_linklist_t clients, dirty;
    chansubs_t **buckets;
    size_t cap, count;
    atomic_int n_subs; /* read by publishers to skip idle loops */
    h2o_timeout_t tick_timeout;
    h2o_timeout_entry_t tick;
    struct pollfd *polls; /* event streams' sockets, asked once a tick whether the peer left */
    client_t **polled;
    size_t polls_cap;
};

/* Process-wide hub state, defined in realtime.c: settings, the loops' hubs, presence and
 * the connection caps' counters. */
struct st_rt_process_t {
    hub_t *hubs;
    int n_hubs;
    pthread_mutex_t lock; /* hub binding vs. publishers */
    pthread_mutex_t presence_lock;
    struct presence {
        struct presence *next;
        int count;
        char key[];
    } * presence;
    const cn_config_t *cfg;
    int heartbeat_ms;
    size_t max_queue, max_message;
    int max_subs;
    /* connection caps: open connections of the process, and per tenant and per principal in
     * counters (one table, keys "t\n<tenant>", "p\n<tenant>\n<subject>" and, for connections
     * not authenticated yet, "a\n<client address>"), all loops */
    atomic_int n_slots;
    int max_connections, max_per_tenant, max_per_principal, max_anon_per_ip;
    /* unsent bytes of all connections, and the most they may hold together */
    atomic_size_t queued_total;
    size_t max_queued_total;
    pthread_mutex_t counters_lock;
    struct counter {
        struct counter *next;
        int n;
        char key[];
    } * counters[256];
};
extern struct st_rt_process_t cn__realtime;

/* The hub of the loop running on this thread (NULL on other threads). */
extern _Thread_local hub_t *cn__rt_this_hub;

/* The caps a connection may meet, most specific first (that one is named in a refusal). */
typedef enum { CAP_NONE, CAP_PRINCIPAL, CAP_TENANT, CAP_ANON, CAP_PROCESS, CAP_COUNT } cap_t;
typedef struct {
    const char *label, *type, *setting;
} cap_info_t;
extern const cap_info_t cn__rt_caps[CAP_COUNT]; /* realtime_caps.c */

/* for /metrics: process-wide, updated with relaxed atomics (realtime.c) */
struct st_rt_stats_t {
    atomic_long connections, subscriptions, deliveries, events, slow_closes, auth_failures;
    atomic_long refusals[CAP_COUNT];
};
extern struct st_rt_stats_t cn__rt_stats;

/* ---- realtime.c ---- */

/* A principal's copy that a connection keeps (malloc'd; the caller frees it). */
who_t *cn__rt_who_new(const cn_principal_t *p);
void cn__rt_mark_dirty(client_t *c);
/* Brings cn__realtime.queued_total up to date with what c holds now. */
void cn__rt_account(client_t *c);
/* Queues one message; a client that cannot take it is closed as too slow (1008). */
void cn__rt_client_send(client_t *c, const char *json, size_t len, const char *sse, size_t sse_len);
/* A write finished: the next bytes go out. */
void cn__rt_written(client_t *c);
void cn__rt_flush_dirty(hub_t *hub);
/* Every way a connection ends goes through here. */
void cn__rt_client_free(client_t *c);
/* The permission a channel needs, from the modules' channel tables (NULL: unknown). */
const char *cn__rt_channel_permission(const char *channel);
void cn__rt_subscribe(client_t *c, const char *channel, int64_t since, const char *epoch);
/* One text message from a WebSocket client. */
void cn__rt_on_text(client_t *c, const char *text, size_t len);

/* ---- realtime_proto.c ---- */

void cn__rt_event_json(cn_buf_t *b, const cn_event_t *ev);
void cn__rt_event_sse(cn_buf_t *b, const cn_event_t *ev, const char *json, size_t len);
/* Sends a protocol message; an event stream gets it as a record named sse_event. */
void cn__rt_send_jw(client_t *c, const char *sse_event, cn_buf_t *b);
void cn__rt_send_error(client_t *c, const char *code, const char *message, const char *channel);
void cn__rt_send_position(client_t *c, const char *op, const char *channel,
                          const cn_position_t *pos, const cn_position_t *at);
void cn__rt_send_ready(client_t *c);

/* ---- realtime_ws.c ---- */

void cn__rt_ws_queue_close(client_t *c, uint16_t code, const char *reason);
/* RFC 6455 5.2: a final, unmasked text frame's header; returns its length. */
size_t cn__rt_ws_text_header(uint8_t h[10], size_t len);
void cn__rt_on_ws_written(h2o_socket_t *sock, const char *err);
void cn__rt_ws_ping(client_t *c);
/* GET /api/v1/realtime: the WebSocket upgrade. */
int cn__rt_get_realtime(cn_req_t *r);

/* ---- realtime_sse.c ---- */

/* Ends the loop's event streams whose peer has gone (once a tick). */
void cn__rt_sse_reap_gone(hub_t *hub);
/* GET /api/v1/realtime/sse */
int cn__rt_get_sse(cn_req_t *r);

/* ---- realtime_presence.c ---- */

/* Counts a connection of the principal in (delta 1) or out (-1); any thread. */
void cn__rt_presence_add(const who_t *p, int delta);
/* with a cluster bus: counts shared through its key-value bucket (module start / free) */
int cn__rt_presence_start(cn_err_t *err);
void cn__rt_presence_stop(void);
/* GET /api/v1/realtime/presence */
int cn__rt_get_presence(cn_req_t *r);

/* ---- realtime_caps.c (any thread) ---- */

/* For a request: a process slot, then its principal's and tenant's counts, or for a
 * connection without credentials its address's; else answers 429 and returns its code. */
int cn__rt_admit(cn_req_t *r, client_t *c);
/* Counts a connection for its principal and tenant, or says which cap refuses it. */
cap_t cn__rt_principal_take(const who_t *w);
/* The connection authenticated (or ends): it no longer counts as anonymous. */
void cn__rt_anon_give(client_t *c);
/* Gives back what the client holds. */
void cn__rt_caps_release(client_t *c);
void cn__rt_count_refusal(cap_t cap);
/* What each cap holds now (metrics). */
void cn__rt_caps_held(long held[CAP_COUNT]);

#endif
