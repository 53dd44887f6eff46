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

/** Forgets every channel and subscriber (tests, shutdown). */
void cn_events_reset(void);

#endif
