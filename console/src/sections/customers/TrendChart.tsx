// One customer's sentiment trend as a small uPlot chart: the average compound score per
// bucket (a line, -1..1) over the number of interactions (bars). The canvas keeps a fixed
// height; the same numbers are in a table for screen readers and keyboard users.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { components } from '@cairn/sdk';

type Bucket = components['schemas']['TrendBucket'];

const HEIGHT = 200;

function token(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function options(width: number, timezone: string, unit: string): uPlot.Options {
  const muted = token('--text-muted', '#555');
  const grid = token('--border', '#ccc');
  return {
    width,
    height: HEIGHT,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), timezone),
    scales: { x: { time: true }, s: { range: [-1, 1] }, n: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
    axes: [
      { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
      { scale: 's', stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 44 },
      { scale: 'n', side: 1, stroke: muted, grid: { show: false }, ticks: { stroke: grid }, size: 40 },
    ],
    series: [
      {},
      {
        label: 'Interactions', scale: 'n', stroke: token('--chart-neutral', '#888'), fill: token('--surface-2', '#eee'),
        paths: uPlot.paths.bars!({ size: [0.6, 24] }), points: { show: false },
      },
      {
        label: `Average sentiment per ${unit}`, scale: 's', stroke: token('--chart-1', '#1f5fbf'), width: 2,
        spanGaps: false, points: { show: true, size: 5 },
      },
    ],
  };
}

export function TrendChart({ buckets, timezone, unit }: { buckets: Bucket[]; timezone: string; unit: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const data: uPlot.AlignedData = [
      buckets.map((b) => b.start / 1000),
      buckets.map((b) => b.interactions),
      buckets.map((b) => b.average_compound),
    ];
    let plot: uPlot | null = null;
    const draw = () => {
      plot?.destroy();
      plot = new uPlot(options(Math.max(200, el.clientWidth), timezone, unit), data, el);
    };
    draw();
    const resize = new ResizeObserver(() => plot?.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    resize.observe(el);
    // the colours are the theme's: draw again when the system switches light/dark
    const scheme = window.matchMedia('(prefers-color-scheme: dark)');
    scheme.addEventListener('change', draw);
    return () => {
      resize.disconnect();
      scheme.removeEventListener('change', draw);
      plot?.destroy();
    };
  }, [buckets, timezone, unit]);
  return <div className="trend-plot" ref={box} aria-hidden="true" />;
}
