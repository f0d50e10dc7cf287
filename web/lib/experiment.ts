/**
 * An experiment from a campaign's delivery: each creative an arm, clicks as users and
 * conversions as conversions, with the cumulative counts after each day for the sequential
 * test. Posted to `POST /api/analytics/experiments`, which computes every statistic.
 */

import type { MetricRow } from './types';

export interface Counts {
  conversions: number;
  users: number;
}

export interface ExperimentRequest {
  campaign_id: string;
  name: string;
  test: { control: Counts & { name: string }; variants: (Counts & { name: string })[] };
  daily: { control: Counts; variants: Counts[] }[];
}

/**
 * The experiment of the creatives with clicks (the first by id is the control), or null when
 * fewer than two creatives have any. Daily looks start on the first day every arm has a click;
 * conversions are rounded and never exceed clicks.
 */
export function experimentFromMetrics(campaignId: string, rows: MetricRow[], name?: string, labels?: Map<string, string>): ExperimentRequest | null {
  const byCreative = new Map<string, Map<string, Counts>>();
  for (const r of rows) {
    if (!r.creative_id) continue;
    if (!byCreative.has(r.creative_id)) byCreative.set(r.creative_id, new Map());
    const days = byCreative.get(r.creative_id)!;
    const c = days.get(r.day) ?? { conversions: 0, users: 0 };
    c.users += r.clicks;
    c.conversions += r.conversions;
    days.set(r.day, c);
  }
  const arms = [...byCreative.keys()]
    .sort()
    .filter((id) => [...byCreative.get(id)!.values()].some((c) => c.users > 0));
  if (arms.length < 2) return null;
  const days = [...new Set(rows.map((r) => r.day))].sort();
  const running = new Map(arms.map((a) => [a, { conversions: 0, users: 0 }]));
  const clamp = (c: Counts): Counts => {
    const users = Math.round(c.users);
    return { users, conversions: Math.min(users, Math.max(0, Math.round(c.conversions))) };
  };
  const daily: ExperimentRequest['daily'] = [];
  for (const day of days) {
    for (const a of arms) {
      const add = byCreative.get(a)!.get(day);
      if (add) {
        const r = running.get(a)!;
        r.users += add.users;
        r.conversions += add.conversions;
      }
    }
    const counts = arms.map((a) => clamp(running.get(a)!));
    if (counts.every((c) => c.users > 0)) daily.push({ control: counts[0], variants: counts.slice(1) });
  }
  const total = arms.map((a) => clamp(running.get(a)!));
  const label = (id: string) => labels?.get(id) ?? `creative ${id.slice(0, 8)}`;
  return {
    campaign_id: campaignId,
    name: name ?? `Creatives, conversions per click (${days[0]} to ${days[days.length - 1]})`,
    test: {
      control: { name: label(arms[0]), ...total[0] },
      variants: arms.slice(1).map((a, i) => ({ name: label(a), ...total[i + 1] })),
    },
    daily,
  };
}

/** What the always-valid p-value says about stopping. */
export function sequentialState(p: number | null | undefined, alpha = 0.05): 'no daily looks' | 'significant: can stop' | 'keep collecting' {
  if (p === null || p === undefined) return 'no daily looks';
  return p < alpha ? 'significant: can stop' : 'keep collecting';
}
