/*
 * The event bus. A module publishes a typed event ("note.created") on a tenant's channel
 * ("notes") inside its write transaction. The event gets the channel's next sequence
 * number in that transaction and is kept in the channel's bounded history; only when
 * the transaction commits is it delivered, in seq order per channel, to subscribers (the
 * realtime hub, cache invalidation, other modules) of this node and, over the cluster bus,
 * of every other node. A rolled-back change publishes nothing. Nothing above this
 * interface may assume one process.
 */
#ifndef CAIRN_CORE_EVENTS_H
#define CAIRN_CORE_EVENTS_H

#include "core/config.h"
#include "core/json.h"
#include "store/store.h"

#define CN_EPOCH_LEN 16
#define CN_CHANNEL_MAX 100

/** A committed event as subscribers see it (valid during the call only). */
typedef struct st_cn_event_t {
    const char *tenant_id;
    const char *channel;
    const char *type;
    const char *data; /* JSON text */
    size_t data_len;
    int64_t seq;
    const char *epoch; /* the channel's epoch: its seq restarted when this changed */
    int64_t at_ms;
} cn_event_t;

/**
 * Publishes inside the caller's open transaction (a unit of work, or the loop turn's
 * batch). data is borrowed and serialised now (NULL: {}). The event's sequence number is
 * not known yet: the database assigns it just before the transaction commits.
 */
int cn_event_publish(cn_store_t *s, const char *tenant_id, const char *channel, const char *type,
                     json_t *data, cn_err_t *err);

/** Like cn_event_publish, with data already serialised as JSON text. */
int cn_event_publish_text(cn_store_t *s, const char *tenant_id, const char *channel,
                          const char *type, const char *data, size_t data_len, cn_err_t *err);

/**
 * Called for every committed event whose type starts with type_prefix ("" for all), of
 * this node and (on a cluster bus) of every other node: right after the commit, on the
 * committing thread, the bus's thread or the thread that fills gaps from the history;
 * one channel's events in seq order, and never concurrently. It must be quick and must
 * not block or use a store; it runs on every node, so slow or durable follow-up work
 * belongs in a job enqueued with the change itself.
 */
typedef void (*cn_event_fn)(const cn_event_t *ev, void *ud);
void cn_events_subscribe(const char *type_prefix, cn_event_fn fn, void *ud);

/** A channel name: 1..CN_CHANNEL_MAX bytes of letters, digits and "._-:". */
int cn_events_channel_valid(const char *channel);

/** A channel's committed position. */
typedef struct st_cn_position_t {
    int64_t seq;
    char epoch[CN_EPOCH_LEN + 1]; /* "" while nothing was ever published on it */
} cn_position_t;

/** The committed position of a channel (read through s when not known in memory). */
int cn_events_position(cn_store_t *s, const char *tenant, const char *channel, int64_t *seq,
                       char epoch[CN_EPOCH_LEN + 1], cn_err_t *err);

/**
 * Fills pos with the channel's position, then (since >= 0) calls fn for every event after
 * since, in order, from the history. Returns 0, CN_RESYNC when the events after since are
 * no longer all kept (or epoch names another numbering), fn's non-zero result, or an
 * error. s must read committed data as of now (not a loop turn's older snapshot).
 */
typedef int (*cn_replay_fn)(const cn_event_t *ev, void *ud);
int cn_events_replay(cn_store_t *s, const char *tenant, const char *channel, int64_t since,
                     const char *epoch, cn_position_t *pos, cn_replay_fn fn, void *ud,
                     cn_err_t *err);

#endif
