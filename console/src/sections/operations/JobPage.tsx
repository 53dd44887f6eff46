// One job: its state, attempts, last error, payload and progress. While it is queued or
// running the page asks again every second (not while the tab is hidden); a dead job can be
// retried from here.
import { Fragment, useState } from 'react';
import { Link, useParams } from 'wouter';
import { API } from '../../lib/sdk';
import { useApiQuery } from '../../lib/query';
import { formatDateTime, formatDuration, formatNumber, formatRelative } from '../../lib/format';
import { problemMessage } from '../../lib/problem';
import { Button, ErrorNotice, PageHeader, PageSkeleton, useToast } from '../../ui';
import { StateBadge } from './JobCounts';
import { usePageVisible } from './hooks';
import { useRetryJob } from './retry';
import { KEYS, type Job } from './types';
import './operations.css';

export default function JobPage() {
  const { id = '' } = useParams<{ id: string }>();
  const visible = usePageVisible();
  const job = useApiQuery<Job>([...KEYS.jobs, 'job', id], `${API}/jobs/${encodeURIComponent(id)}`, undefined, {
    refetchInterval: (q) => (visible && (q.state.data?.state === 'queued' || q.state.data?.state === 'running') ? 1000 : false),
    staleTime: 0,
  });
  const retry = useRetryJob();
  const toast = useToast();
  const [refusal, setRefusal] = useState<string | null>(null);

  const back = <Link href="/operations/jobs" className="ops-back">All jobs</Link>;
  if (job.isLoading) return <PageSkeleton />;
  if (!job.data) {
    return (
      <>
        <PageHeader title="Job">{back}</PageHeader>
        <ErrorNotice error={job.error} onRetry={() => void job.refetch()} />
      </>
    );
  }
  const j = job.data;
  const live = j.state === 'queued' || j.state === 'running';
  const onRetry = () => {
    setRefusal(null);
    retry.mutate(j.id, {
      onSuccess: () => toast(`${j.name} queued again`),
      onError: (e) => setRefusal(problemMessage(e)),
    });
  };
  return (
    <>
      <PageHeader title={`Job ${j.name}`}>
        {back}
        {j.state === 'dead' && <Button variant="primary" busy={retry.isPending} onClick={onRetry}>Retry</Button>}
      </PageHeader>
      <div className="stack">
        {refusal && <div className="notice notice-error" role="alert"><p><strong>The retry was refused</strong></p><p>{refusal}</p></div>}
        {job.error && <ErrorNotice error={job.error} title="The job could not be refreshed" onRetry={() => void job.refetch()} />}
        <section className="card" aria-labelledby="ops-job-state">
          <h2 id="ops-job-state">State</h2>
          <p className="ops-job-state" role="status">
            <StateBadge state={j.state} />
            {live && <span className="muted"> Updating every second while it {j.state === 'queued' ? 'waits' : 'runs'}.</span>}
          </p>
          <Attempts job={j} />
          <dl className="facts">
            <dt>Id</dt><dd><code className="ops-code">{j.id}</code></dd>
            <dt>Created</dt><dd>{formatDateTime(j.created_at)}</dd>
            <dt>{j.state === 'queued' ? 'Runs' : 'Ran'}</dt><dd>{formatDateTime(j.run_at)} ({formatRelative(j.run_at)})</dd>
            {j.lease_until != null && j.state === 'running' && <><dt>Lease until</dt><dd>{formatDateTime(j.lease_until)}</dd></>}
            <dt>Updated</dt><dd>{formatDateTime(j.updated_at)}</dd>
            <dt>Finished</dt><dd>{j.finished_at ? formatDateTime(j.finished_at) : '—'}</dd>
            {j.every_ms > 0 && <><dt>Repeats</dt><dd>every {formatDuration(j.every_ms)}</dd></>}
            {j.unique_key && <><dt>Unique key</dt><dd><code className="ops-code">{j.unique_key}</code></dd></>}
          </dl>
        </section>
        <section className="card" aria-labelledby="ops-job-error">
          <h2 id="ops-job-error">Last error</h2>
          {j.last_error ? <pre className="ops-pre ops-error-text">{j.last_error}</pre> : <p className="muted">No attempt has failed.</p>}
        </section>
        <Progress progress={j.progress as Record<string, unknown> | null} />
        <section className="card" aria-labelledby="ops-job-payload">
          <h2 id="ops-job-payload">Payload</h2>
          <pre className="ops-pre" tabIndex={0} aria-labelledby="ops-job-payload">{JSON.stringify(j.payload, null, 2)}</pre>
        </section>
      </div>
    </>
  );
}

function Attempts({ job }: { job: Job }) {
  return (
    <div className="ops-attempts">
      <label htmlFor="ops-attempts-meter">Attempts: {job.attempts} of {job.max_attempts}</label>
      <meter id="ops-attempts-meter" min={0} max={Math.max(1, job.max_attempts)} value={job.attempts}
        low={Math.max(1, job.max_attempts) - 0.5} high={Math.max(1, job.max_attempts) - 0.5} optimum={0} />
    </div>
  );
}

// "rows_done" -> "Rows done"
const label = (k: string) => (k.charAt(0).toUpperCase() + k.slice(1)).replace(/_/g, ' ');

/** What the handler last reported: its numbers, and a bar when it names a total. */
function Progress({ progress }: { progress: Record<string, unknown> | null }) {
  if (!progress || typeof progress !== 'object') {
    return (
      <section className="card" aria-labelledby="ops-job-progress">
        <h2 id="ops-job-progress">Progress</h2>
        <p className="muted">This job reports no progress.</p>
      </section>
    );
  }
  const entries = Object.entries(progress);
  const total = typeof progress.total === 'number' ? progress.total : null;
  const done = typeof progress.done === 'number' ? progress.done
    : typeof progress.rows_done === 'number' ? progress.rows_done + (typeof progress.rows_failed === 'number' ? progress.rows_failed : 0) : null;
  return (
    <section className="card" aria-labelledby="ops-job-progress">
      <h2 id="ops-job-progress">Progress</h2>
      {total != null && done != null && total > 0 && (
        <progress className="ops-progress" max={total} value={Math.min(done, total)} aria-labelledby="ops-job-progress" />
      )}
      <dl className="facts">
        {entries.map(([k, v]) => (
          <Fragment key={k}>
            <dt>{label(k)}</dt>
            <dd>{typeof v === 'number' ? formatNumber(v) : typeof v === 'string' ? v : JSON.stringify(v)}</dd>
          </Fragment>
        ))}
      </dl>
    </section>
  );
}
