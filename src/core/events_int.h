/*
 * The event bus's kernel part: its configuration, the store hook that delivers committed
 * events, the tables of its history (the realtime module's migrations) and the reset of
 * tests and shutdown. Never included by an app (apps see events.h).
 */
#ifndef CAIRN_CORE_EVENTS_INT_H
#define CAIRN_CORE_EVENTS_INT_H

#include "core/events.h"

/** History bounds (realtime.history_count, realtime.history_age_s). */
void cn_events_configure(int64_t history_count, int64_t history_age_s);

/** The store hook that writes, delivers or drops what a transaction published. */
extern const cn_store_hook_t cn_events_hook;

/** The tables of channels and their history (migrations of the realtime module). */
extern const cn_migration_t cn_events_migrations[];

/**
 * Numbers a transaction's events of one channel: ($1 tenant, $2 channel, $3 how many, $4
 * the epoch of a channel's first event) adds $3 to the channel's position and returns the
 * new position and the channel's epoch, locking its row until the transaction ends.
 */
extern const char cn_events_allocate_sql[];

/** Forgets every channel and subscriber (tests, shutdown). */
void cn_events_reset(void);

/**
 * The relay (events_order.c): a thread that fills gaps in a channel's delivery from
 * realtime_events through store (its own connection, which it closes at stop), and, on
 * the process's bus (cn_bus_process, opened first), receives other nodes' events and
 * catches up after a reconnect. Without it, events still reach subscribers in order, but
 * a gap is never filled.
 */
CN_MUST_CHECK int cn_events_relay_start(cn_store_t *store, cn_err_t *err);
/** Stops the relay and closes its store. */
void cn_events_relay_stop(void);

/* ---- between events.c and events_order.c ---- */

/** The hash of a channel's key (tenant '\n' channel), for the tables of events*.c. */
uint64_t cn__events_key_hash(const char *tenant, const char *channel);
/** Calls the subscribers of ev's type (order lock held: one event at a time). */
void cn__events_dispatch(const cn_event_t *ev);
/** A committed event, from this process or another node: delivered in seq order. */
void cn__events_accept(const cn_event_t *ev);
/** Sends a committed event of this process to the other nodes (nothing without a bus). */
void cn__events_publish(const cn_event_t *ev);
/** Raises *seq to what this process delivered of the channel (same epoch); a channel seen
 *  first here starts its ordering at *seq. */
void cn__events_floor(const char *tenant, const char *channel, int64_t *seq,
                      char epoch[CN_EPOCH_LEN + 1]);
/** Forgets the delivery order of every channel. */
void cn__events_order_reset(void);

#endif
