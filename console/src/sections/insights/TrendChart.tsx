// The sentiment trend: interactions per bucket (bars, right axis) and the average compound
// (line, left axis, −1…1) drawn by uPlot on a canvas, with a visually hidden table of the
// same numbers as its text alternative. Bucket times are shown in the report's time zone.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatNumber } from '../../lib/format';
import type { TrendBucket } from './types';
import { bucketLabel, thin } from './labels';

const HEIGHT = 240;

function token(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

// whole numbers only on the count axis
const COUNT_STEPS = [1, 2, 5].flatMap((m) => Array.from({ length: 10 }, (_, e) => m * 10 ** e)).sort((a, b) => a - b);

function options(width: number, groupBy: string, timeZone: string): uPlot.Options {
  const text = token('--text-muted');
  const grid = token('--border');
  const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  return {
    width,
    height: HEIGHT,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), timeZone),
    scales: { x: { time: true }, count: { range: (_u, _min, max) => [0, Math.max(1, max)] }, sentiment: { range: [-1, 1] } },
    series: [
      {},
      { label: 'Interactions', scale: 'count', fill: token('--chart-1') + '55', stroke: token('--chart-1'), width: 1,
        paths: uPlot.paths.bars!({ size: [0.7, 40] }), points: { show: false } },
      { label: 'Average sentiment', scale: 'sentiment', stroke: token('--chart-2'), width: 2, spanGaps: false,
        points: { show: true, size: 5, fill: token('--chart-2') } },
    ],
    axes: [
      // ticks at bucket starts (never two labels for one day), as many as fit
      { ...axis, splits: (u) => thin(u.data[0] as number[], Math.max(2, Math.floor(u.width / 72))),
        values: (_u, splits) => splits.map((s) => bucketLabel(s * 1000, groupBy, timeZone, true)) },
      { ...axis, scale: 'sentiment', values: (_u, splits) => splits.map((s) => formatNumber(s, 1)), size: 44 },
      { ...axis, scale: 'count', side: 1, grid: { show: false }, incrs: COUNT_STEPS,
        values: (_u, splits) => splits.map((s) => formatNumber(s, 0)), size: 56 },
    ],
  };
}

function data(buckets: TrendBucket[]): uPlot.AlignedData {
  return [
    buckets.map((b) => b.start / 1000),
    buckets.map((b) => b.interactions),
    buckets.map((b) => b.average_compound),
  ];
}

export interface TrendChartProps {
  buckets: TrendBucket[];
  groupBy: string;
  timeZone: string;
  /** Called after each draw (the page's redraw timing). */
  onDraw?: () => void;
}

export function TrendChart({ buckets, groupBy, timeZone, onDraw }: TrendChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const drawn = useRef(onDraw);
  drawn.current = onDraw;

  // (re)created when the zone, the bucket size or the theme changes; data alone is setData
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    let u: uPlot | null = null;
    const make = () => {
      u?.destroy();
      u = new uPlot(options(Math.max(200, el.clientWidth), groupBy, timeZone), data(bucketsRef.current), el);
      chart.current = u;
    };
    make();
    const dark = matchMedia('(prefers-color-scheme: dark)');
    dark.addEventListener('change', make);
    const ro = new ResizeObserver(() => {
      if (u && el.clientWidth && Math.abs(u.width - el.clientWidth) > 1) u.setSize({ width: el.clientWidth, height: HEIGHT });
    });
    ro.observe(el);
    return () => {
      dark.removeEventListener('change', make);
      ro.disconnect();
      u?.destroy();
      chart.current = null;
    };
  }, [groupBy, timeZone]);

  const bucketsRef = useRef(buckets);
  bucketsRef.current = buckets;
  useEffect(() => {
    chart.current?.setData(data(buckets));
    drawn.current?.();
  }, [buckets]);

  return (
    <figure className="insights-figure" aria-labelledby="insights-trend-caption">
      <figcaption id="insights-trend-caption" className="visually-hidden">
        Interactions and average sentiment per {groupBy} ({timeZone})
      </figcaption>
      <div className="trend-legend" aria-hidden="true">
        <span className="legend-key legend-key-1">Interactions</span>
        <span className="legend-key legend-key-2">Average sentiment (−1 to 1)</span>
      </div>
      <div ref={box} className="trend-canvas" aria-hidden="true" />
      <div className="visually-hidden">
      <table>
        <caption>Sentiment trend per {groupBy}, times in {timeZone}</caption>
        <thead>
          <tr><th scope="col">Period starting</th><th scope="col">Interactions</th><th scope="col">Average sentiment</th>
            <th scope="col">Positive</th><th scope="col">Neutral</th><th scope="col">Negative</th></tr>
        </thead>
        <tbody>
          {buckets.map((b) => (
            <tr key={b.start}>
              <th scope="row">{bucketLabel(b.start, groupBy, timeZone)}</th>
              <td>{formatNumber(b.interactions)}</td>
              <td>{b.average_compound == null ? 'none analysed' : formatNumber(b.average_compound, 3)}</td>
              <td>{formatNumber(b.positive)}</td><td>{formatNumber(b.neutral)}</td><td>{formatNumber(b.negative)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </figure>
  );
}
