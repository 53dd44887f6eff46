// Small hooks of the operations pages: the tab's visibility (polling stops while hidden) and
// filters kept in the address's query string (a view can be shared and reloaded).
import { useCallback, useMemo, useSyncExternalStore } from 'react';
import { useSearchParams } from 'wouter';

function subscribeVisibility(fn: () => void) {
  document.addEventListener('visibilitychange', fn);
  return () => document.removeEventListener('visibilitychange', fn);
}

/** True while the page's tab is visible. */
export function usePageVisible(): boolean {
  return useSyncExternalStore(subscribeVisibility, () => document.visibilityState !== 'hidden', () => true);
}

/**
 * The query string's values for `names` ('' when absent) and a setter that replaces them
 * (empty values are dropped; other parameters are kept).
 */
export function useUrlFilters<K extends string>(names: readonly K[]): [Record<K, string>, (next: Partial<Record<K, string>>) => void] {
  const [params, setParams] = useSearchParams();
  const key = names.map((n) => `${n}=${params.get(n) ?? ''}`).join('&');
  const values = useMemo(() => Object.fromEntries(names.map((n) => [n, params.get(n) ?? ''])) as Record<K, string>, [key]);
  const set = useCallback((next: Partial<Record<K, string>>) => {
    setParams((prev) => {
      const p = new URLSearchParams(prev);
      for (const [k, v] of Object.entries(next) as [K, string | undefined][]) {
        if (v) p.set(k, v);
        else p.delete(k);
      }
      return p;
    });
  }, [setParams]);
  return [values, set];
}

/** A datetime-local control's value ("2026-12-07T14:03") for an instant, in local time. */
export function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The instant of a datetime-local value as RFC 3339 (UTC), '' when empty or invalid. */
export function fromLocalInput(local: string): string {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}
