import { formatChange, formatNumber } from '../lib/format';
import { Skeleton } from './Skeleton';

export interface KpiProps {
  label: string;
  value: number | null | undefined;
  /** Formats the value (default: formatNumber). */
  format?: (n: number) => string;
  /** Change against the previous period as a fraction (0.12 = +12 %), or null when unknown. */
  change?: number | null;
  /** Formats the change (default: formatChange, a signed percentage); e.g. points for a share. */
  formatDelta?: (n: number) => string;
  /** Whether a rise is good (green) — false for, say, the share of negative interactions. */
  higherIsBetter?: boolean;
  loading?: boolean;
}

/** A KPI tile: label, value and the change against the previous period. Keeps its size while loading. */
export function Kpi({ label, value, format = (n) => formatNumber(n), change, formatDelta = (n) => formatChange(n), higherIsBetter = true, loading }: KpiProps) {
  const direction = change == null || change === 0 ? 'flat' : change > 0 ? 'up' : 'down';
  const good = direction === 'flat' ? 'flat' : (direction === 'up') === higherIsBetter ? 'up' : 'down';
  const arrow = direction === 'up' ? '▲' : direction === 'down' ? '▼' : '';
  return (
    <section className="card kpi" aria-label={label}>
      <h2 className="kpi-label">{label}</h2>
      {loading ? <Skeleton lines={2} /> : (
        <>
          <p className="kpi-value num">{value == null ? '—' : format(value)}</p>
          {change !== undefined && (
            <p className={`kpi-change kpi-change-${good}`}>
              <span aria-hidden="true">{arrow} </span>
              {change == null ? 'no previous period' : `${formatDelta(change)} vs previous period`}
            </p>
          )}
        </>
      )}
    </section>
  );
}
