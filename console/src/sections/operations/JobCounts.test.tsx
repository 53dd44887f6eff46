import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { CairnError } from '@cairn/sdk';
import { useState } from 'react';
import { cairn } from '../../lib/sdk';
import { useApiQuery } from '../../lib/query';
import { JobCounts } from './JobCounts';
import { markQueued, useRetryJob } from './retry';
import { KEYS, type Job, type JobList, type JobState } from './types';

const job = (id: string, state: JobState): Job => ({
  id, name: 'notes.analyse', state, attempts: 3, max_attempts: 3, run_at: 1, lease_until: null, unique_key: null,
  every_ms: 0, last_error: 'the note no longer exists', payload: {}, created_at: 1, updated_at: 2, finished_at: null, progress: null,
});
const LIST: JobList = { items: [job('a', 'dead'), job('b', 'done')], next_cursor: null, counts: { queued: 2, running: 1, done: 40, dead: 1 } };

describe('job counts', () => {
  test('a tile per state with its count; pressing one filters by it, again shows all', async () => {
    const user = userEvent.setup();
    function Tiles() {
      const [state, setState] = useState<JobState | ''>('');
      return <><JobCounts counts={LIST.counts} selected={state} onSelect={setState} /><p>filter: {state || 'all'}</p></>;
    }
    render(<Tiles />);
    const tiles = screen.getAllByRole('button');
    expect(tiles.map((t) => t.textContent)).toEqual(['Queued2', 'Running1', 'Done40', 'Dead letters1']);
    const dead = screen.getByRole('button', { name: /Dead letters/ });
    expect(dead.className).toContain('ops-tile-alarm');
    await user.click(dead);
    expect(dead.getAttribute('aria-pressed')).toBe('true');
    expect(screen.getByText('filter: dead')).toBeTruthy();
    await user.click(dead);
    expect(screen.getByText('filter: all')).toBeTruthy();
  });

  test('while loading the tiles keep their place with placeholders', () => {
    render(<JobCounts counts={undefined} selected="" onSelect={() => {}} />);
    expect(screen.getAllByRole('button')).toHaveLength(4);
    expect(document.querySelectorAll('.skeleton')).toHaveLength(4);
  });
});

describe('retrying a dead job', () => {
  test('markQueued moves the job and the counts; other answers are left alone', () => {
    const next = markQueued(LIST, 'a') as JobList;
    expect(next.items[0].state).toBe('queued');
    expect(next.counts).toEqual({ queued: 3, running: 1, done: 40, dead: 0 });
    expect(markQueued(LIST, 'b')).toBe(LIST); // not dead: nothing to retry
    expect(markQueued(job('a', 'dead'), 'a')).toMatchObject({ state: 'queued', attempts: 0 });
  });

  test('shown queued at once; a 409 puts the list back as it was and gives the detail', async () => {
    let refuse!: (e: unknown) => void;
    vi.spyOn(cairn, 'get').mockResolvedValue(LIST);
    vi.spyOn(cairn, 'post').mockImplementation(() => new Promise((_, reject) => { refuse = reject; }));
    const qc = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity }, mutations: { retry: false } } });
    function Dead() {
      const q = useApiQuery<JobList>([...KEYS.jobs, 'dead'], '/api/v1/jobs', { state: 'dead' });
      const retry = useRetryJob();
      const [error, setError] = useState('');
      return (
        <>
          <p>{q.data ? `a is ${q.data.items[0].state}, ${q.data.counts.dead} dead` : 'loading'}</p>
          <button type="button" onClick={() => retry.mutate('a', { onError: (e) => setError(e.detail) })}>Retry</button>
          <p role="alert">{error}</p>
        </>
      );
    }
    const user = userEvent.setup();
    render(<QueryClientProvider client={qc}><Dead /></QueryClientProvider>);
    await screen.findByText('a is dead, 1 dead');
    await user.click(screen.getByRole('button', { name: 'Retry' }));
    await screen.findByText('a is queued, 0 dead');
    refuse(new CairnError({ status: 409, detail: 'the job is not dead' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toBe('the job is not dead'));
    await screen.findByText('a is dead, 1 dead');
  });
});
