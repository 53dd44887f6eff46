// System health for operators: readiness of each part, version and uptime, request rate,
// latency quantiles, the job queue and realtime connections. Asked again every few seconds
// while the tab is visible; polling stops while it is hidden.
import { useEffect, useState } from 'react';
import { API, cairn } from '../../lib/sdk';
import { useApiQuery } from '../../lib/query';
import { formatDateTime, formatDuration, formatNumber, formatPercent, formatTime } from '../../lib/format';
import { problemMessage } from '../../lib/problem';
import { ErrorNotice, Kpi, PageHeader, Skeleton } from '../../ui';
import { useQuery } from '@tanstack/react-query';
import { usePageVisible } from './hooks';
import { KEYS, type SystemStatus } from './types';
import './operations.css';

const POLL_MS = 3000;
const HISTORY = 40;

interface Readiness { ok: boolean; detail: string }

export default function HealthPage() {
  const visible = usePageVisible();
  const interval = visible ? POLL_MS : false;
  const status = useApiQuery<SystemStatus>(KEYS.status, `${API}/system/status`, undefined,
    { refetchInterval: interval, staleTime: 0, placeholderData: (p) => p });
  const readyz = useQuery<Readiness>({
    queryKey: KEYS.readyz,
    queryFn: async ({ signal }) => {
      try {
        await cairn.get('/readyz', { signal });
        return { ok: true, detail: 'answers 200' };
      } catch (e) {
        return { ok: false, detail: problemMessage(e) };
      }
    },
    refetchInterval: interval,
    staleTime: 0,
  });
  const rates = useHistory(status.data?.requests.per_second, status.dataUpdatedAt);
  const s = status.data;

  return (
    <>
      <PageHeader title="System health">
        <p className="ops-refresh muted" role="status">
          {!visible ? 'Paused while the tab is hidden' : status.dataUpdatedAt ? `Updated ${formatTime(status.dataUpdatedAt)}, every ${POLL_MS / 1000} s` : 'Loading…'}
        </p>
      </PageHeader>
      <div className="stack">
        {status.error && <ErrorNotice error={status.error} title="The status could not be read" onRetry={() => void status.refetch()} />}
        <section className="card" aria-labelledby="ops-ready-title">
          <h2 id="ops-ready-title">Readiness</h2>
          <ul className="ops-components">
            <Component name="API server" loading={!s && !status.error} ok={!!s && !status.error}
              text={s ? `Version ${s.version}, up ${formatDuration(s.uptime_ms)} (since ${formatDateTime(s.started_at)})` : 'Does not answer'} />
            <Component name="Database and migrations" loading={!s} ok={!!s?.ready}
              text={s ? (s.ready ? `Ready, ${formatNumber(s.migrations)} migrations applied` : s.ready_detail ?? 'Not ready') : ''} />
            <Component name="Readiness probe (/readyz)" loading={!readyz.data} ok={!!readyz.data?.ok} text={readyz.data?.detail ?? ''} />
            <Component name="Background jobs" loading={!s} ok={!!s?.jobs && s.jobs.dead === 0} warn={!!s?.jobs}
              text={!s ? '' : s.jobs ? `${formatNumber(s.jobs.queued)} queued, ${formatNumber(s.jobs.running)} running, ${formatNumber(s.jobs.dead)} dead (this organisation)`
                : 'Not counted while the server is not ready'} />
            <Component name="Realtime" loading={!s} ok={!!s}
              text={s ? `${formatNumber(s.realtime.connections)} open ${s.realtime.connections === 1 ? 'connection' : 'connections'}` : ''} />
          </ul>
        </section>
        <section aria-labelledby="ops-traffic-title">
          <h2 id="ops-traffic-title">Traffic {s && <span className="muted ops-window">(last {formatDuration(s.requests.window_ms)})</span>}</h2>
          <div className="grid grid-kpi">
            <Kpi label="Request rate" loading={!s} value={s?.requests.per_second} format={(n) => `${formatNumber(n, 2)} /s`} />
            <Kpi label="Server errors" loading={!s} value={s ? (s.requests.window_total ? s.requests.window_errors / s.requests.window_total : 0) : null}
              format={(n) => formatPercent(n, 2)} />
            <Kpi label="Latency p50" loading={!s} value={s?.latency_ms.p50} format={ms} />
            <Kpi label="Latency p90" loading={!s} value={s?.latency_ms.p90} format={ms} />
            <Kpi label="Latency p99" loading={!s} value={s?.latency_ms.p99} format={ms} />
            <Kpi label="Requests since start" loading={!s} value={s?.requests.total} />
          </div>
          <RateChart rates={rates} />
        </section>
        <section aria-labelledby="ops-work-title">
          <h2 id="ops-work-title">Work in progress</h2>
          <div className="grid grid-kpi">
            <Kpi label="Job queue depth" loading={!s} value={s?.jobs ? s.jobs.queued + s.jobs.running : null} />
            <Kpi label="Dead jobs" loading={!s} value={s?.jobs?.dead} />
            <Kpi label="Realtime connections" loading={!s} value={s?.realtime.connections} />
          </div>
        </section>
      </div>
    </>
  );
}

const ms = (n: number) => `${formatNumber(n, n < 10 ? 2 : 0)} ms`;

function Component({ name, ok, text, loading, warn = false }: { name: string; ok: boolean; text: string; loading: boolean; warn?: boolean }) {
  const tone = ok ? 'ok' : warn ? 'warn' : 'bad';
  return (
    <li className="ops-component">
      <span className="ops-component-name">{name}</span>
      {loading ? <Skeleton /> : (
        <span className={`ops-state ops-state-${tone}`}>
          <span aria-hidden="true">{ok ? '✓' : warn ? '!' : '✗'} </span>
          <strong>{ok ? 'OK' : warn ? 'Attention' : 'Not ready'}</strong>{text ? ` — ${text}` : ''}
        </span>
      )}
    </li>
  );
}

/** The last values of a polled number, one per answer. */
function useHistory(value: number | undefined, at: number): number[] {
  const [xs, setXs] = useState<number[]>([]);
  useEffect(() => {
    if (value == null || !at) return;
    setXs((prev) => [...prev.slice(-(HISTORY - 1)), value]);
  }, [value, at]);
  return xs;
}

/** The request rate of the answers seen since the page opened, as a line. */
function RateChart({ rates }: { rates: number[] }) {
  const w = 400;
  const h = 60;
  const max = Math.max(1, ...rates);
  const points = rates.map((r, i) => `${(i / Math.max(1, rates.length - 1)) * w},${h - (r / max) * (h - 4) - 2}`).join(' ');
  const last = rates[rates.length - 1];
  return (
    <figure className="card ops-chart">
      <svg viewBox={`0 0 ${w} ${h}`} preserveAspectRatio="none" role="img"
        aria-label={rates.length ? `Request rate over the last ${rates.length} samples, latest ${formatNumber(last, 2)} per second, highest ${formatNumber(Math.max(...rates), 2)}` : 'No samples yet'}>
        <polyline className="ops-chart-line" points={points} fill="none" />
      </svg>
      <figcaption className="muted">Request rate since this page opened (one point per refresh; top: {formatNumber(max, 2)} /s)</figcaption>
    </figure>
  );
}
