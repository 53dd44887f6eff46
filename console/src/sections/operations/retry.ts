// Retrying a dead job, optimistically: every cached list and the job's own page show it queued
// (and the counts move) at once; a refusal (409: it is no longer dead, say) puts the caches
// back as they were and the caller shows the problem's detail.
import { useQueryClient, type QueryKey } from '@tanstack/react-query';
import { API, cairn } from '../../lib/sdk';
import { useApiMutation } from '../../lib/query';
import { KEYS, type Job, type JobList } from './types';

type Cached = JobList | Job | undefined;

/** The cached answer with job `id` shown as queued again. */
export function markQueued(old: Cached, id: string): Cached {
  if (!old) return old;
  const queued = (j: Job): Job => ({ ...j, state: 'queued', attempts: 0 });
  if ('items' in old) {
    if (!old.items.some((j) => j.id === id && j.state === 'dead')) return old;
    const counts = old.counts ? { ...old.counts, dead: Math.max(0, old.counts.dead - 1), queued: old.counts.queued + 1 } : old.counts;
    return { ...old, counts, items: old.items.map((j) => (j.id === id ? queued(j) : j)) };
  }
  return old.id === id && old.state === 'dead' ? queued(old) : old;
}

export function useRetryJob() {
  const qc = useQueryClient();
  return useApiMutation((id: string) => cairn.post<Job>(`${API}/jobs/${id}/retry`), {
    onMutate: async (id) => {
      await qc.cancelQueries({ queryKey: KEYS.jobs });
      const before = qc.getQueriesData<Cached>({ queryKey: KEYS.jobs });
      qc.setQueriesData<Cached>({ queryKey: KEYS.jobs }, (old) => markQueued(old, id));
      return { before };
    },
    onError: (_error, _id, ctx) => {
      const before = (ctx as { before?: [QueryKey, Cached][] } | undefined)?.before ?? [];
      for (const [key, data] of before) qc.setQueryData(key, data);
    },
    onSettled: () => qc.invalidateQueries({ queryKey: KEYS.jobs }),
  });
}
