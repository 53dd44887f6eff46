// Live updates: one realtime connection per signed-in session (the SDK's RealtimeClient,
// authenticated by the session cookie, reconnecting with back-off and resuming each channel
// from its last seq). Components use useChannel / useLiveInvalidate; the shell closes the
// connection on sign-out and restarts it after signing in again.
import { useEffect, useRef, useSyncExternalStore } from 'react';
import type { QueryKey } from '@tanstack/react-query';
import type { RealtimeClient, RealtimeEvent, RealtimeState } from '@cairn/sdk';
import { cairn } from './sdk';
import { queryClient } from './query';

type Handler = (event: RealtimeEvent) => void;

let client: RealtimeClient | null = null;
let state: RealtimeState = 'idle';
const handlers = new Map<string, Set<Handler>>(); // what the mounted components asked for
const unsubscribes = new Map<string, () => void>(); // channel -> the client's unsubscribe
const stateListeners = new Set<() => void>();
let live = new Set<string>(); // channels the server confirmed on the current connection

function notify() {
  for (const fn of stateListeners) fn();
}

function setState(s: RealtimeState) {
  state = s;
  if (s !== 'open' && live.size) live = new Set();
  notify();
}

function setLive(channel: string, on: boolean) {
  if (live.has(channel) === on) return;
  live = new Set(live);
  if (on) live.add(channel);
  else live.delete(channel);
  notify();
}

function dispatch(channel: string, event: RealtimeEvent) {
  for (const h of [...(handlers.get(channel) ?? [])]) h(event);
}

function attach(channel: string, since?: { seq: number | null; epoch: string | null } | null) {
  if (!client) return;
  const opts = since?.seq != null ? { since: since.seq, epoch: since.epoch ?? undefined } : undefined;
  unsubscribes.set(channel, client.subscribe(channel, (ev) => dispatch(channel, ev), opts));
}

function connection(): RealtimeClient {
  if (!client) {
    client = cairn.realtime();
    client.on('state', setState);
    client.on('subscribed', (m) => setLive(m.channel, true));
    setState(client.state);
  }
  return client;
}

/** Subscribes `onEvent` to `channel` while `channel` is set. Events arrive once, in seq order. */
export function subscribe(channel: string, onEvent: Handler): () => void {
  let set = handlers.get(channel);
  if (!set) {
    set = new Set();
    handlers.set(channel, set);
  }
  set.add(onEvent);
  connection();
  if (!unsubscribes.has(channel)) attach(channel);
  return () => {
    set.delete(onEvent);
    if (set.size) return;
    handlers.delete(channel);
    unsubscribes.get(channel)?.();
    unsubscribes.delete(channel);
    setLive(channel, false);
  };
}

/** Closes the connection and forgets every subscription (sign-out). */
export function closeRealtime(): void {
  unsubscribes.clear();
  handlers.clear();
  client?.close();
  client = null;
  setState('idle');
}

/**
 * After signing in again in the same session's place: a fresh connection that resumes each
 * channel the page still listens to from the last position seen (no event is missed).
 */
export function restartRealtime(): void {
  const old = client;
  if (!old) return;
  const positions = new Map([...handlers.keys()].map((ch) => [ch, old.position(ch)]));
  old.close();
  client = null;
  unsubscribes.clear();
  if (!handlers.size) return setState('idle');
  connection();
  for (const [ch, pos] of positions) attach(ch, pos);
}

/** The connection's state: 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'. */
export function useRealtimeState(): RealtimeState {
  return useSyncExternalStore(
    (fn) => { stateListeners.add(fn); return () => stateListeners.delete(fn); },
    () => state,
  );
}

/** True while the server streams `channel` to this page (its subscription is confirmed). */
export function useChannelLive(channel: string | null): boolean {
  return useSyncExternalStore(
    (fn) => { stateListeners.add(fn); return () => stateListeners.delete(fn); },
    () => channel != null && live.has(channel),
  );
}

/**
 * Calls `onEvent` for each event of `channel` while mounted (null: no subscription). The
 * latest `onEvent` is used without subscribing again.
 */
export function useChannel<D = unknown>(channel: string | null, onEvent: (event: RealtimeEvent<D>) => void): void {
  const ref = useRef(onEvent);
  ref.current = onEvent;
  useEffect(() => {
    if (!channel) return undefined;
    return subscribe(channel, (ev) => ref.current(ev as RealtimeEvent<D>));
  }, [channel]);
}

/**
 * Invalidates `keys` when events arrive on `channel`: at once for the first event, then at
 * most once per `intervalMs` (a burst of ingests refetches twice, not once per event).
 */
export function useLiveInvalidate(channel: string | null, keys: QueryKey[], intervalMs = 500): void {
  const keysRef = useRef(keys);
  keysRef.current = keys;
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const pending = useRef(false);
  useEffect(() => () => { if (timer.current) clearTimeout(timer.current); }, []);
  useChannel(channel, () => {
    const invalidate = () => {
      for (const queryKey of keysRef.current) void queryClient.invalidateQueries({ queryKey });
    };
    if (timer.current) {
      pending.current = true;
      return;
    }
    invalidate();
    const tick = () => {
      if (!pending.current) {
        timer.current = null;
        return;
      }
      pending.current = false;
      invalidate();
      timer.current = setTimeout(tick, intervalMs);
    };
    timer.current = setTimeout(tick, intervalMs);
  });
}
