// Jobs: counts by state (tiles that filter), the list filtered by state and type (in the
// address), and the dead letters with a retry each. While jobs are queued or running the page
// refreshes every few seconds (not while the tab is hidden).
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { Link } from 'wouter';
import { API } from '../../lib/sdk';
import { useApiQuery, useCursorQuery, useInvalidate } from '../../lib/query';
import { formatDateTime, formatRelative } from '../../lib/format';
import { problemMessage } from '../../lib/problem';
import {
  Button, DataTable, EmptyState, ErrorNotice, Field, PageHeader, Select, TextInput, useToast, type ColumnDef,
} from '../../ui';
import { JobCounts, STATE_LABELS, StateBadge } from './JobCounts';
import { usePageVisible, useUrlFilters } from './hooks';
import { useRetryJob } from './retry';
import { JOB_STATES, KEYS, type Job, type JobList, type JobState } from './types';
import './operations.css';

const FILTERS = ['state', 'name'] as const;
const POLL_MS = 3000;

const isState = (s: string): s is JobState => (JOB_STATES as string[]).includes(s);

export default function JobsPage() {
  const [filters, setFilters] = useUrlFilters(FILTERS);
  const state = isState(filters.state) ? filters.state : '';
  const query = useMemo(() => ({ state: state || undefined, name: filters.name || undefined }), [state, filters.name]);
  const jobs = useCursorQuery<Job>(KEYS.jobs, `${API}/jobs`, query, 25);
  const counts = (jobs.data as JobList | undefined)?.counts;
  const active = (counts?.queued ?? 0) + (counts?.running ?? 0) > 0;
  usePolling(active, [KEYS.jobs]);

  const columns = useMemo<ColumnDef<Job, any>[]>(() => [
    { accessorKey: 'name', header: 'Type', cell: (c) => <Link href={`/operations/jobs/${c.row.original.id}`}>{c.getValue<string>()}</Link> },
    { accessorKey: 'state', header: 'State', cell: (c) => <StateBadge state={c.getValue<JobState>()} /> },
    { id: 'attempts', accessorFn: (j) => j.attempts, header: 'Attempts', meta: { numeric: true }, cell: (c) => `${c.row.original.attempts} / ${c.row.original.max_attempts}` },
    { accessorKey: 'updated_at', header: 'Updated', cell: (c) => formatDateTime(c.getValue<number>()) },
    { accessorKey: 'last_error', header: 'Last error', enableSorting: false, cell: (c) => <span className="ops-error-text">{c.getValue<string | null>() ?? '—'}</span> },
  ], []);

  return (
    <>
      <PageHeader title="Jobs" />
      <div className="stack">
        <JobCounts counts={counts} selected={state} onSelect={(s) => setFilters({ state: s })} />
        <DeadLetters />
        <JobFilters key={`${state}|${filters.name}`} state={state} name={filters.name} onApply={(v) => setFilters(v)} />
        <DataTable caption={state ? `Jobs: ${STATE_LABELS[state].toLowerCase()}` : 'Jobs'} columns={columns} data={jobs.items}
          loading={jobs.isLoading} error={jobs.error} onRetry={() => void jobs.refetch()} pagination={jobs.pager} getRowId={(j) => j.id}
          empty={state || filters.name
            ? <EmptyState title="No job matches these filters" action={<Button onClick={() => setFilters({ state: '', name: '' })}>Show every job</Button>}>Choose another state or type.</EmptyState>
            : <EmptyState title="No jobs yet">Work the server does in the background (imports, analyses, mail) is listed here as it is queued.</EmptyState>} />
      </div>
    </>
  );
}

/** Refreshes `keys` every few seconds while `on` and the tab is visible. */
export function usePolling(on: boolean, keys: readonly (readonly string[])[], ms = POLL_MS) {
  const visible = usePageVisible();
  const invalidate = useInvalidate();
  const id = JSON.stringify(keys);
  useEffect(() => {
    if (!on || !visible) return undefined;
    const t = setInterval(() => void invalidate(...(JSON.parse(id) as string[][])), ms);
    return () => clearInterval(t);
  }, [on, visible, id, ms, invalidate]);
}

function JobFilters({ state, name, onApply }: { state: JobState | ''; name: string; onApply: (v: { state: string; name: string }) => void }) {
  const [s, setS] = useState<string>(state);
  const [n, setN] = useState(name);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onApply({ state: s, name: n.trim() });
  };
  return (
    <form className="card ops-filters" onSubmit={submit} aria-label="Filter the jobs">
      <Field label="State" className="ops-filter">
        <Select value={s} onChange={(e) => setS(e.target.value)}>
          <option value="">Any state</option>
          {JOB_STATES.map((x) => <option key={x} value={x}>{STATE_LABELS[x]}</option>)}
        </Select>
      </Field>
      <Field label="Type" hint="e.g. insights.import" className="ops-filter">
        <TextInput value={n} onChange={(e) => setN(e.target.value)} autoComplete="off" />
      </Field>
      <div className="form-actions ops-filter-actions">
        <Button type="submit" variant="primary">Filter</Button>
        <Button onClick={() => { setS(''); setN(''); onApply({ state: '', name: '' }); }}>Clear</Button>
      </div>
    </form>
  );
}

/** The dead letters, each with a retry (optimistic; a refusal is shown and undone). */
function DeadLetters() {
  const dead = useApiQuery<JobList>([...KEYS.jobs, 'dead'], `${API}/jobs`, { state: 'dead', limit: 50 });
  const retry = useRetryJob();
  const toast = useToast();
  const [refusal, setRefusal] = useState<{ id: string; message: string } | null>(null);
  const items = dead.data?.items ?? [];
  if (dead.isLoading) return null;
  if (dead.error && !dead.data) {
    return (
      <section className="card" aria-labelledby="ops-dead-title">
        <h2 id="ops-dead-title">Dead letters</h2>
        <ErrorNotice error={dead.error} onRetry={() => void dead.refetch()} />
      </section>
    );
  }
  if (items.every((j) => j.state !== 'dead') && !refusal) return null;

  const onRetry = (job: Job) => {
    setRefusal(null);
    retry.mutate(job.id, {
      onSuccess: () => toast(`${job.name} queued again`),
      onError: (e) => setRefusal({ id: job.id, message: problemMessage(e) }),
    });
  };

  return (
    <section className="card stack" aria-labelledby="ops-dead-title">
      <h2 id="ops-dead-title">Dead letters</h2>
      <p className="muted">These jobs failed every attempt. Fix the cause, then retry: the attempts start again from zero.</p>
      {refusal && (
        <div className="notice notice-error" role="alert">
          <p><strong>The retry was refused</strong></p>
          <p>{refusal.message}</p>
        </div>
      )}
      <ul className="ops-dead-list">
          {items.map((j) => (
            <li key={j.id} className="ops-dead-item">
              <div className="ops-dead-main">
                <Link href={`/operations/jobs/${j.id}`}>{j.name}</Link> <StateBadge state={j.state} />
                <p className="ops-error-text">{j.last_error ?? 'No error was recorded.'}</p>
                <p className="muted">{j.attempts} of {j.max_attempts} attempts · updated {formatRelative(j.updated_at)}</p>
              </div>
              <Button size="small" variant="primary" disabled={j.state !== 'dead'} busy={retry.isPending && retry.variables === j.id}
                onClick={() => onRetry(j)} aria-label={`Retry ${j.name} (${j.id.slice(0, 8)})`}>
                {j.state === 'dead' ? 'Retry' : 'Queued'}
              </Button>
            </li>
          ))}
      </ul>
    </section>
  );
}
