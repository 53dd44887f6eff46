// Server state: one QueryClient, and hooks that read the API through the SDK. Keys are
// arrays whose first element names the section ('insights', 'members', …); the hooks append
// the path and query, so invalidating a key prefix (after a mutation or a realtime event)
// refreshes every query under it.
import {
  MutationCache, QueryCache, QueryClient, useMutation, useQuery, useQueryClient,
  type QueryKey, type UseMutationOptions, type UseQueryOptions,
} from '@tanstack/react-query';
import { useCallback, useMemo, useState } from 'react';
import { CairnError } from '@cairn/sdk';
import { cairn } from './sdk';

export type Query = Record<string, string | number | boolean | null | undefined>;

/** A cursor-paginated answer of the API. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

const errorListeners = new Set<(error: CairnError) => void>();

/** Listens to every failed query and mutation (the shell reacts to some kinds, such as
 *  mfa-required); returns the remover. */
export function onApiError(fn: (error: CairnError) => void): () => void {
  errorListeners.add(fn);
  return () => errorListeners.delete(fn);
}

function reportError(error: unknown) {
  if (error instanceof CairnError) for (const fn of errorListeners) fn(error);
}

export const queryClient = new QueryClient({
  queryCache: new QueryCache({ onError: reportError }),
  mutationCache: new MutationCache({ onError: reportError }),
  defaultOptions: {
    queries: {
      staleTime: 30_000,
      // a 4xx does not get better by asking again; network failures and 5xx do
      retry: (count, error) => count < 2 && !(error instanceof CairnError && error.status >= 400 && error.status < 500),
      refetchOnWindowFocus: false,
    },
  },
});

/** The full key of `useApiQuery(key, path, query)`: invalidate `key` to refresh it. */
export function apiKey(key: QueryKey, path: string, query?: Query): QueryKey {
  return [...key, path, query ?? {}];
}

type ApiQueryOptions<T> = Omit<UseQueryOptions<T, CairnError, T, QueryKey>, 'queryKey' | 'queryFn'>;

/** GET `path` (with `query`) under `key`. data is the parsed JSON answer. */
export function useApiQuery<T>(key: QueryKey, path: string, query?: Query, options?: ApiQueryOptions<T>) {
  return useQuery<T, CairnError, T, QueryKey>({
    queryKey: apiKey(key, path, query),
    queryFn: ({ signal }) => cairn.get<T>(path, { query, signal }),
    ...options,
  });
}

/** Refreshes every query under each of the keys. */
export function useInvalidate(): (...keys: QueryKey[]) => Promise<void> {
  const qc = useQueryClient();
  return useCallback(async (...keys: QueryKey[]) => {
    await Promise.all(keys.map((queryKey) => qc.invalidateQueries({ queryKey })));
  }, [qc]);
}

type ApiMutationOptions<T, V> = Omit<UseMutationOptions<T, CairnError, V>, 'mutationFn'> & {
  /** Keys to invalidate once the mutation succeeded. */
  invalidate?: QueryKey[];
};

/**
 * A change through the SDK: `mutate(vars)` runs `fn(vars)` (e.g. `(v) => cairn.post(path, v)`)
 * and, once it succeeded, invalidates `invalidate`. error is the CairnError (see lib/forms
 * applyProblem to put its field errors on a form).
 */
export function useApiMutation<T, V = void>(fn: (vars: V) => Promise<T>, options: ApiMutationOptions<T, V> = {}) {
  const qc = useQueryClient();
  const { invalidate = [], onSuccess, ...rest } = options;
  return useMutation<T, CairnError, V>({
    mutationFn: fn,
    ...rest,
    onSuccess: async (data, vars, ctx, mctx) => {
      await Promise.all(invalidate.map((queryKey) => qc.invalidateQueries({ queryKey })));
      await onSuccess?.(data, vars, ctx, mctx);
    },
  });
}

/** What DataTable's `pagination` prop takes: the position in a cursor-paginated list. */
export interface CursorPager {
  /** 1-based number of the page shown. */
  page: number;
  hasPrev: boolean;
  hasNext: boolean;
  prev(): void;
  next(): void;
  /** Back to the first page (after a filter change, say). */
  reset(): void;
}

/**
 * A cursor-paginated list: GET `path` with `query` + `limit` + `cursor`. The API gives only
 * `next_cursor`, so the cursors of the pages seen are kept to go back. A new `query` starts
 * again at the first page.
 */
export function useCursorQuery<T>(key: QueryKey, path: string, query: Query = {}, limit = 25) {
  const queryId = JSON.stringify(query);
  const [state, setState] = useState<{ queryId: string; cursors: (string | null)[] }>({ queryId, cursors: [null] });
  const cursors = state.queryId === queryId ? state.cursors : [null];
  const cursor = cursors[cursors.length - 1];
  const result = useApiQuery<Page<T>>(key, path, { ...query, limit, cursor }, { placeholderData: (prev) => prev });
  const nextCursor = result.data?.next_cursor ?? null;
  const pager: CursorPager = useMemo(() => ({
    page: cursors.length,
    hasPrev: cursors.length > 1,
    hasNext: !result.isPlaceholderData && nextCursor != null,
    prev: () => setState({ queryId, cursors: cursors.length > 1 ? cursors.slice(0, -1) : cursors }),
    next: () => { if (nextCursor) setState({ queryId, cursors: [...cursors, nextCursor] }); },
    reset: () => setState({ queryId, cursors: [null] }),
  }), [cursors, nextCursor, queryId, result.isPlaceholderData]);
  return { ...result, items: result.data?.items, pager };
}
