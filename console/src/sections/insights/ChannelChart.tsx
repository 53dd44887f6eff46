// How the period's interactions spread over the channels: horizontal bars (@visx), each
// labelled with its count and share; a visually hidden table says the same in text.
import { Group } from '@visx/group';
import { scaleBand, scaleLinear } from '@visx/scale';
import { Bar } from '@visx/shape';
import { formatNumber, formatPercent } from '../../lib/format';
import { CHANNELS } from './filters';

const W = 480;
const ROW = 32;
const LABEL_W = 72;
const VALUE_W = 110;

export function ChannelChart({ counts }: { counts: Record<string, number> }) {
  const rows = CHANNELS.map((c) => ({ channel: c, n: counts[c] ?? 0 }));
  const total = rows.reduce((s, r) => s + r.n, 0);
  const h = rows.length * ROW;
  const y = scaleBand({ domain: rows.map((r) => r.channel), range: [0, h], padding: 0.25 });
  const x = scaleLinear({ domain: [0, Math.max(1, ...rows.map((r) => r.n))], range: [0, W - LABEL_W - VALUE_W] });
  return (
    <figure className="insights-figure">
      <svg className="bar-chart" viewBox={`0 0 ${W} ${h}`} width="100%" aria-hidden="true" focusable="false">
        {rows.map((r, i) => (
          <Group key={r.channel} top={y(r.channel) ?? 0}>
            <text className="chart-label" x={0} y={y.bandwidth() / 2} dominantBaseline="middle">{r.channel}</text>
            <Bar className={`chart-bar chart-fill-${(i % 5) + 1}`} x={LABEL_W} y={0} height={y.bandwidth()}
              width={Math.max(r.n ? 2 : 0, x(r.n))} rx={3} />
            <text className="chart-value" x={LABEL_W + x(r.n) + 6} y={y.bandwidth() / 2} dominantBaseline="middle">
              {formatNumber(r.n)} ({formatPercent(total ? r.n / total : 0)})
            </text>
          </Group>
        ))}
      </svg>
      <div className="visually-hidden">
      <table>
        <caption>Interactions by channel</caption>
        <thead><tr><th scope="col">Channel</th><th scope="col">Interactions</th><th scope="col">Share</th></tr></thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.channel}><th scope="row">{r.channel}</th><td>{formatNumber(r.n)}</td>
              <td>{formatPercent(total ? r.n / total : 0)}</td></tr>
          ))}
        </tbody>
      </table>
      </div>
    </figure>
  );
}
