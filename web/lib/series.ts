/**
 * Daily metric rows (`GET /api/metrics`) as chart series: summed per day (and per platform or
 * creative when split), with CTR, CPA and ROAS computed per day from the sums.
 */

import { cpaMicros, ctr, roas } from './metrics';
import type { MetricRow } from './types';

export type MetricKey = 'spend' | 'impressions' | 'clicks' | 'conversions' | 'revenue' | 'ctr' | 'cpa' | 'roas';

export const METRIC_LABELS: Record<MetricKey, string> = {
  spend: 'Spend',
  impressions: 'Impressions',
  clicks: 'Clicks',
  conversions: 'Conversions',
  revenue: 'Revenue',
  ctr: 'CTR',
  cpa: 'CPA',
  roas: 'ROAS',
};

interface DaySums {
  impressions: number;
  clicks: number;
  spend: number;
  conversions: number;
  revenue: number;
}

/** One metric of one day's sums; money stays in micros. */
export function metricOf(s: DaySums | undefined, key: MetricKey): number | null {
  if (!s) return null;
  switch (key) {
    case 'spend':
      return s.spend;
    case 'impressions':
      return s.impressions;
    case 'clicks':
      return s.clicks;
    case 'conversions':
      return s.conversions;
    case 'revenue':
      return s.revenue;
    case 'ctr':
      return ctr(s.clicks, s.impressions);
    case 'cpa':
      return cpaMicros(s.spend, s.conversions);
    case 'roas':
      return roas(s.revenue, s.spend);
  }
}

/** "2026-01-02" -> unix seconds at UTC midnight. */
export function daySeconds(day: string): number {
  return Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10))) / 1000;
}

export interface DailySeries {
  days: string[];
  /** Unix seconds of each day. */
  x: number[];
  series: { label: string; values: (number | null)[] }[];
}

/**
 * Per-day series of `key`: one series in all (`split` none) or one per platform or creative.
 * Days without rows for a series are null (a gap), not zero.
 */
export function dailySeries(rows: MetricRow[], key: MetricKey, split: 'none' | 'platform' | 'creative' = 'none'): DailySeries {
  const days = [...new Set(rows.map((r) => r.day))].sort();
  const groups = new Map<string, Map<string, DaySums>>();
  for (const r of rows) {
    const group = split === 'platform' ? r.platform : split === 'creative' ? (r.creative_id ?? 'unknown') : 'All';
    if (!groups.has(group)) groups.set(group, new Map());
    const byDay = groups.get(group)!;
    const s = byDay.get(r.day) ?? { impressions: 0, clicks: 0, spend: 0, conversions: 0, revenue: 0 };
    s.impressions += r.impressions;
    s.clicks += r.clicks;
    s.spend += r.spend_micros;
    s.conversions += r.conversions;
    s.revenue += r.revenue_micros;
    byDay.set(r.day, s);
  }
  const series = [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, byDay]) => ({ label, values: days.map((d) => metricOf(byDay.get(d), key)) }));
  return { days, x: days.map(daySeconds), series };
}
