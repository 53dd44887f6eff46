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

#endif
