'use client';

/**
 * Charts with uPlot (a small, maintained canvas chart library). This module is only ever
 * loaded through `next/dynamic` (see ./index.tsx), so pages without charts never download it.
 * Every chart is labelled for assistive technology and carries its numbers as a table.
 */

import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  values: (number | null)[];
}

/** Colour-blind-safe (Okabe–Ito), each at 3:1 or more against white. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#7A5C00', '#56B4E9', '#000000', '#E69F00'];

function DataTable({ title, xLabels, series, format }: { title: string; xLabels: string[]; series: Series[]; format: (v: number) => string }) {
  return (
    <details className="mt-1 text-xs">
      <summary className="cursor-pointer text-slate-700">Show the numbers</summary>
      <div className="relative max-h-64 overflow-auto">
        <table className="w-full border-collapse">
          <caption className="sr-only">{title}</caption>
          <thead>
            <tr>
              <th scope="col" className="border-b px-1 text-left">x</th>
              {series.map((s) => <th key={s.label} scope="col" className="border-b px-1 text-right">{s.label}</th>)}
            </tr>
          </thead>
          <tbody>
            {xLabels.map((x, i) => (
              <tr key={`${x}-${i}`}>
                <th scope="row" className="border-b px-1 text-left font-normal">{x}</th>
                {series.map((s) => (
                  <td key={s.label} className="border-b px-1 text-right tabular-nums">
                    {s.values[i] === null || s.values[i] === undefined ? '—' : format(s.values[i] as number)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

function useUPlot(build: (width: number) => uPlot.Options, data: uPlot.AlignedData, deps: unknown[]) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const width = () => Math.max(240, el.clientWidth);
    const plot = new uPlot(build(width()), data, el);
    const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: plot.height }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return ref;
}

export interface LineChartProps {
  title: string;
  /** x values: unix seconds when `time`, else plain numbers (spend levels). */
  x: number[];
  series: Series[];
  time?: boolean;
  xLabel?: string;
  yLabel?: string;
  format?: (v: number) => string;
  height?: number;
}

export function LineChart({ title, x, series, time = false, xLabel, yLabel, format = (v) => v.toLocaleString('en-US', { maximumFractionDigits: 2 }), height = 260 }: LineChartProps) {
  const ref = useUPlot(
    (width) => ({
      width,
      height,
      scales: { x: { time } },
      axes: [
        { label: xLabel, stroke: '#334155', grid: { stroke: '#e2e8f0' } },
        { label: yLabel, stroke: '#334155', grid: { stroke: '#e2e8f0' }, values: (_u, vals) => vals.map((v) => format(v)), size: 70 },
      ],
      series: [
        { label: xLabel ?? (time ? 'Day' : 'x'), value: time ? '{YYYY}-{MM}-{DD}' : undefined },
        ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true, value: (_u: uPlot, v: number | null) => (v === null ? '—' : format(v)) })),
      ],
    }),
    [x, ...series.map((s) => s.values)],
    [JSON.stringify({ x, series, time, height })],
  );
  const labels = x.map((v) => (time ? new Date(v * 1000).toISOString().slice(0, 10) : format(v)));
  return (
    <figure className="w-full">
      <figcaption className="mb-1 text-sm font-medium">{title}</figcaption>
      <div ref={ref} role="img" aria-label={`${title}: ${series.map((s) => s.label).join(', ')}`} className="w-full" />
      <DataTable title={title} xLabels={labels} series={series} format={format} />
    </figure>
  );
}

export interface BarChartProps {
  title: string;
  categories: string[];
  series: Series[];
  format?: (v: number) => string;
  height?: number;
}

/** Grouped bars, one group per category (up to three series side by side). */
export function BarChart({ title, categories, series, format = (v) => v.toLocaleString('en-US', { maximumFractionDigits: 2 }), height = 240 }: BarChartProps) {
  const n = series.length;
  const ref = useUPlot(
    (width) => ({
      width,
      height,
      scales: { x: { time: false, range: [-0.5, categories.length - 0.5] }, y: { range: (_u, min, max) => [Math.min(0, min), Math.max(0, max) * 1.1 || 1] } },
      axes: [
        { stroke: '#334155', grid: { show: false }, splits: () => categories.map((_, i) => i), values: () => categories },
        { stroke: '#334155', grid: { stroke: '#e2e8f0' }, values: (_u, vals) => vals.map((v) => format(v)), size: 70 },
      ],
      series: [
        { label: 'Channel', value: (_u: uPlot, v: number) => categories[v] ?? '' },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: PALETTE[i % PALETTE.length],
          fill: PALETTE[i % PALETTE.length],
          width: 0,
          points: { show: false },
          paths: uPlot.paths.bars!({ size: [0.8 / n, 80], align: (n === 1 ? 0 : i === 0 ? -1 : 1) as -1 | 0 | 1, gap: 2 }),
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : format(v)),
        })),
      ],
    }),
    [categories.map((_, i) => i), ...series.map((s) => s.values)],
    [JSON.stringify({ categories, series, height })],
  );
  return (
    <figure className="w-full">
      <figcaption className="mb-1 text-sm font-medium">{title}</figcaption>
      <div ref={ref} role="img" aria-label={`${title}: ${series.map((s) => s.label).join(' and ')} by ${categories.join(', ')}`} className="w-full" />
      <DataTable title={title} xLabels={categories} series={series} format={format} />
    </figure>
  );
}

export default LineChart;
