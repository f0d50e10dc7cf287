'use client';

/** Metrics over time from `GET /api/metrics?campaign_id=...` (every page), as a line chart. */

import { useState } from 'react';
import { nameInWords } from '@/lib/creatives';
import { formatCount, formatPercent, formatRoas } from '@/lib/metrics';
import { formatMoney } from '@/lib/money';
import { METRIC_LABELS, dailySeries, type MetricKey } from '@/lib/series';
import type { MetricRow } from '@/lib/types';
import { LineChart } from '../charts';
import { Card, Empty, inputClass } from '../ui';

export function formatterFor(key: MetricKey, currency: string): (v: number) => string {
  if (key === 'spend' || key === 'revenue' || key === 'cpa') return (v) => formatMoney(v, currency);
  if (key === 'ctr') return (v) => formatPercent(v);
  if (key === 'roas') return (v) => formatRoas(v);
  return (v) => formatCount(v);
}

export default function MetricsPanel({ rows, currency, labels }: { rows: MetricRow[]; currency: string; labels?: Map<string, string> }) {
  const [metric, setMetric] = useState<MetricKey>('spend');
  const [split, setSplit] = useState<'none' | 'platform' | 'creative'>('none');
  const raw = dailySeries(rows, metric, split);
  const data = split === 'creative' ? { ...raw, series: raw.series.map((s) => ({ ...s, label: nameInWords(labels, s.label) })) } : raw;
  return (
    <Card
      title="Metrics over time"
      actions={
        <>
          <label className="flex items-center gap-2 text-sm">
            <span>Metric</span>
            <select className={`${inputClass} w-auto`} value={metric} onChange={(e) => setMetric(e.target.value as MetricKey)}>
              {(Object.keys(METRIC_LABELS) as MetricKey[]).map((k) => <option key={k} value={k}>{METRIC_LABELS[k]}</option>)}
            </select>
          </label>
          <label className="flex items-center gap-2 text-sm">
            <span>Split by</span>
            <select className={`${inputClass} w-auto`} value={split} onChange={(e) => setSplit(e.target.value as typeof split)}>
              <option value="none">nothing</option>
              <option value="platform">platform</option>
              <option value="creative">creative</option>
            </select>
          </label>
        </>
      }
    >
      {rows.length === 0 ? (
        <Empty title="No delivery yet">Deploy the campaign and sync it (for the sandbox: advance some days).</Empty>
      ) : (
        <div data-testid="metrics-chart">
          <LineChart
            title={`${METRIC_LABELS[metric]} per day`}
            x={data.x}
            series={data.series}
            time
            yLabel={METRIC_LABELS[metric]}
            format={formatterFor(metric, currency)}
          />
        </div>
      )}
    </Card>
  );
}
