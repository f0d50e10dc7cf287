/**
 * Tables that read well (issue 21): on the static export with the API answered by fixtures,
 * no word of a table cell (money, counts, statuses, headers, labels) is split across lines at
 * 1366 px or at 375 px wide; wide tables scroll inside their region instead. Run by
 * `npm run e2e:static`.
 */

import { expect, test, type Page } from '@playwright/test';
import { screenshot } from './helpers';

test.skip(process.env.E2E_STATIC !== '1', 'runs on the static export (npm run e2e:static)');

const CAMPAIGN = {
  id: 'c1', name: 'Ridgeline Roasters · coffee subscription', objective: 'sales', status: 'active', currency: 'USD', daily_budget: '107.14',
  start_date: '2026-12-14', end_date: '2027-01-10', platforms: ['meta', 'google', 'tiktok'], brief: null, version: 3, created_at: 0, updated_at: 0,
};
const TOTALS = { impressions: 1_234_567, clicks: 45_678, spend: '1400.19', spend_micros: 1_400_190_000, conversions: 1234, revenue: '5123.45', ctr: 0.037, cpa: 1.13, roas: 3.66 };
const PLAN = {
  campaign_id: 'c1',
  plan: {
    name: 'Ridgeline Roasters · coffee subscription · Dec 2026', currency: 'USD', total_budget_micros: 3_000_000_000, daily_budget_micros: 107_140_000,
    unallocated_micros: 80_000, schedule: { start_date: '2026-12-14', end_date: '2027-01-10', days: 28, phases: [] },
    channels: ['meta', 'google', 'tiktok'].map((p) => ({ platform: p, daily_budget_micros: 35_710_000, share: 0.3333, weight: 1, audience: { name: `Ridgeline Roasters · ${p}`, countries: ['US', 'CA'], age_min: 25, age_max: 54, interests: ['specialty coffee'] } })),
    concepts: [],
  },
  ad_sets: ['meta', 'google', 'tiktok'].map((p, i) => ({ id: `a${i}`, platform: p, name: `Ridgeline Roasters · ${p} · home baristas`, targeting: { description: 'home baristas who grind their own beans', countries: ['US', 'CA'], age_min: 25, age_max: 54 }, daily_budget_micros: 35_710_000 + (i === 0 ? 10_000 : 0), status: 'active', version: 1 })),
};

async function answerApi(page: Page) {
  await page.route('**/api/**', async (route) => {
    const url = new URL(route.request().url());
    const p = url.pathname;
    const json = (body: unknown) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
    if (p === '/api/users/me') return json({ owner_id: 'o', is_admin: true, key_id: null, user: { id: 'u', owner_id: 'o', email: 'marketer@example.com', role: 'admin', created_at: 0 } });
    if (p === '/api/events') return route.fulfill({ status: 204 });
    if (p === '/api/campaigns') return json({ campaigns: [CAMPAIGN, { ...CAMPAIGN, id: 'c2', name: 'Winter sourdough', status: 'paused', currency: 'JPY', daily_budget: '15000' }], next_cursor: null });
    if (/\/report$/.test(p)) return json({ campaign_id: 'c1', currency: 'USD', days: 28, first_day: '2026-12-14', last_day: '2027-01-10', totals: TOTALS, platforms: [], creatives: [], best_vs_rest: null });
    if (p === '/api/campaigns/c1') return route.fulfill({ status: 200, contentType: 'application/json', headers: { etag: '"3"' }, body: JSON.stringify(CAMPAIGN) });
    if (p === '/api/campaigns/c1/plan') return json(PLAN);
    if (p === '/api/campaigns/c1/runs') return json({ runs: [] });
    return route.fulfill({ status: 404, contentType: 'application/json', body: JSON.stringify({ error: { code: 'not_found', message: `no route for GET ${p}` } }) });
  });
}

/** Cells in which some word is drawn on more than one line. */
async function brokenWords(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const broken: string[] = [];
    for (const cell of document.querySelectorAll('table td, table th')) {
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.textContent ?? '';
        const re = /\S+/g;
        for (let m = re.exec(text); m; m = re.exec(text)) {
          const range = document.createRange();
          range.setStart(node, m.index);
          range.setEnd(node, m.index + m[0].length);
          const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
          if (tops.size > 1) broken.push(`${m[0]} in "${cell.textContent?.trim().slice(0, 60)}"`);
        }
      }
    }
    return broken;
  });
}

for (const [name, path, ready] of [
  ['campaigns', '/', 'Campaigns'],
  ['campaign-plan', '/campaign/?id=c1', 'Budget by ad set'],
] as const) {
  for (const width of [1366, 375]) {
    test(`${name} at ${width} px breaks no word in a table`, async ({ page }) => {
      await page.setViewportSize({ width, height: 900 });
      await answerApi(page);
      await page.goto(path);
      await expect(page.getByRole('heading', { name: ready }).first()).toBeVisible();
      await expect(page.locator('table').first()).toBeVisible();
      await expect(page.getByText('$1,400.19').first().or(page.getByText('$35.72').first())).toBeVisible();
      expect(await brokenWords(page)).toEqual([]);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, 'the page itself scrolls sideways').toBeLessThanOrEqual(1);
      await screenshot(page, `readability-${name}-${width}`);
    });
  }
}
