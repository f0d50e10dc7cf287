'use client';

/** The charts, loaded on demand: importing this file does not pull uPlot into a page's first load. */

import dynamic from 'next/dynamic';
import type { BarChartProps, LineChartProps } from './Chart';

const placeholder = () => <div className="h-60 w-full animate-pulse rounded bg-slate-100" aria-hidden="true" />;

export const LineChart = dynamic<LineChartProps>(() => import('./Chart').then((m) => m.LineChart), { ssr: false, loading: placeholder });
export const BarChart = dynamic<BarChartProps>(() => import('./Chart').then((m) => m.BarChart), { ssr: false, loading: placeholder });
export type { Series } from './Chart';
