// Sentiment by customer segment: one stacked bar per segment (positive / neutral /
// negative shares of its analysed interactions, @visx), the average compound beside it,
// and a visually hidden table with the numbers.
import { Group } from '@visx/group';
import { scaleBand, scaleLinear } from '@visx/scale';
import { Bar } from '@visx/shape';
import { formatNumber, formatPercent } from '../../lib/format';
import { SENTIMENTS } from './filters';
import type { SegmentCounts } from './types';

const W = 480;
const ROW = 36;
const LABEL_W = 110;
const VALUE_W = 70;

export function segmentName(s: string | null): string {
  return s ?? 'No segment';
}

export function SegmentChart({ segments }: { segments: SegmentCounts[] }) {
  const rows = segments.slice(0, 12);
  const h = Math.max(1, rows.length) * ROW;
  const y = scaleBand({ domain: rows.map((r) => segmentName(r.segment)), range: [0, h], padding: 0.25 });
  const x = scaleLinear({ domain: [0, 1], range: [0, W - LABEL_W - VALUE_W] });
  return (
    <figure className="insights-figure">
      <div className="trend-legend" aria-hidden="true">
        <span className="legend-key legend-key-positive">Positive</span>
        <span className="legend-key legend-key-neutral">Neutral</span>
        <span className="legend-key legend-key-negative">Negative</span>
      </div>
      <svg className="bar-chart" viewBox={`0 0 ${W} ${h}`} width="100%" aria-hidden="true" focusable="false">
        {rows.map((r) => {
          const name = segmentName(r.segment);
          let at = 0;
          return (
            <Group key={name} top={y(name) ?? 0}>
              <text className="chart-label" x={0} y={y.bandwidth() / 2} dominantBaseline="middle">
                {name.length > 14 ? `${name.slice(0, 13)}…` : name}
              </text>
              {r.analysed === 0
                ? <rect className="chart-bar chart-fill-empty" x={LABEL_W} y={0} width={x(1)} height={y.bandwidth()} rx={3} />
                : SENTIMENTS.map((label) => {
                  const w = x(r[label] / r.analysed);
                  const bar = <Bar key={label} className={`chart-bar chart-fill-${label}`} x={LABEL_W + at} y={0} width={w} height={y.bandwidth()} />;
                  at += w;
                  return bar;
                })}
              <text className="chart-value" x={W - VALUE_W + 8} y={y.bandwidth() / 2} dominantBaseline="middle">
                {r.average_compound == null ? '—' : formatNumber(r.average_compound, 2)}
              </text>
            </Group>
          );
        })}
      </svg>
      <div className="visually-hidden">
      <table>
        <caption>Sentiment by segment</caption>
        <thead>
          <tr><th scope="col">Segment</th><th scope="col">Interactions</th><th scope="col">Positive</th>
            <th scope="col">Neutral</th><th scope="col">Negative</th><th scope="col">Average sentiment</th></tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={segmentName(r.segment)}>
              <th scope="row">{segmentName(r.segment)}</th>
              <td>{formatNumber(r.interactions)}</td>
              {SENTIMENTS.map((l) => <td key={l}>{r.analysed ? formatPercent(r[l] / r.analysed) : '—'}</td>)}
              <td>{r.average_compound == null ? 'none analysed' : formatNumber(r.average_compound, 3)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </figure>
  );
}
