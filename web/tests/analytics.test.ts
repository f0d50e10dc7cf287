import { describe, expect, it } from 'vitest';
import { summarizeCsv, guessResponse, splitCsvLine } from '@/lib/csv';
import { experimentFromMetrics, sequentialState } from '@/lib/experiment';
import { dailySeries, daySeconds } from '@/lib/series';
import type { MetricRow } from '@/lib/types';

const row = (day: string, creative: string, platform: string, impressions: number, clicks: number, spend: number, conversions: number, revenue = 0): MetricRow => ({
  day,
  platform,
  deployment_id: 'd1',
  creative_id: creative,
  ad_external_id: `ad-${creative}`,
  impressions,
  clicks,
  spend_micros: spend,
  conversions,
  revenue_micros: revenue,
});

const rows = [
  row('2026-01-01', 'a', 'sandbox', 1000, 10, 5_000_000, 1, 20_000_000),
  row('2026-01-01', 'b', 'sandbox', 1000, 0, 5_000_000, 0),
  row('2026-01-02', 'a', 'sandbox', 1000, 20, 6_000_000, 2.4, 30_000_000),
  row('2026-01-02', 'b', 'meta', 500, 5, 0, 0),
];

describe('daily series', () => {
  it('sums per day and computes ratios from the sums', () => {
    const spend = dailySeries(rows, 'spend');
    expect(spend.days).toEqual(['2026-01-01', '2026-01-02']);
    expect(spend.x[0]).toBe(daySeconds('2026-01-01'));
    expect(spend.series).toEqual([{ label: 'All', values: [10_000_000, 6_000_000] }]);
    expect(dailySeries(rows, 'ctr').series[0].values).toEqual([10 / 2000, 25 / 1500]);
    expect(dailySeries(rows, 'roas').series[0].values).toEqual([2, 5]);
  });

  it('splits by platform with gaps as null, and zero spend gives no CPA', () => {
    const split = dailySeries(rows, 'spend', 'platform');
    expect(split.series.map((s) => s.label)).toEqual(['meta', 'sandbox']);
    expect(split.series[0].values).toEqual([null, 0]);
    expect(dailySeries(rows, 'cpa', 'creative').series[1].values).toEqual([null, null]);
  });
});

describe('experiments from delivery', () => {
  it('makes each creative with clicks an arm, with cumulative daily looks', () => {
    const e = experimentFromMetrics('c1', rows)!;
    expect(e.test.control).toEqual({ name: 'creative a', conversions: 3, users: 30 });
    expect(e.test.variants).toEqual([{ name: 'creative b', conversions: 0, users: 5 }]);
    // Day 1: creative b had no click yet, so the first look is day 2.
    expect(e.daily).toEqual([{ control: { conversions: 3, users: 30 }, variants: [{ conversions: 0, users: 5 }] }]);
  });

  it('needs two creatives with clicks', () => {
    expect(experimentFromMetrics('c1', rows.filter((r) => r.creative_id === 'a'))).toBeNull();
    expect(experimentFromMetrics('c1', [])).toBeNull();
  });

  it('says what the sequential test allows', () => {
    expect(sequentialState(null)).toBe('no daily looks');
    expect(sequentialState(0.01)).toBe('significant: can stop');
    expect(sequentialState(0.2)).toBe('keep collecting');
  });
});

describe('CSV columns', () => {
  it('reads quoted cells and finds numeric and date columns', () => {
    expect(splitCsvLine('a,"b,c",""""')).toEqual(['a', 'b,c', '"']);
    const s = summarizeCsv('date,revenue,tv,"search spend",note\n2024-01-01,100,5,3,x\n2024-01-08,120,6,4,y\n');
    expect(s.header).toEqual(['date', 'revenue', 'tv', 'search spend', 'note']);
    expect(s.rows).toBe(2);
    expect(s.dateColumn).toBe('date');
    expect(s.numeric).toEqual(['revenue', 'tv', 'search spend']);
    expect(guessResponse(s.numeric)).toBe('revenue');
  });
});
