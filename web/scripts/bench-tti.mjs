#!/usr/bin/env node
/**
 * Time to interactive of the campaigns page, in headless Chromium against a running server
 * (BASE_URL, signed in as ADFORGE_E2E_EMAIL/PASSWORD). "Interactive" here: the table's first
 * page of rows is rendered with every row's metrics, and the main thread has had no long task
 * (over 50 ms, PerformanceObserver `longtask`) since: the later of the two, from navigation
 * start. Also reported: DOMContentLoaded, the table's first paint of rows, and the long tasks.
 * Usage: node scripts/bench-tti.mjs [runs=5]
 */

import { chromium } from '@playwright/test';

/** As playwright.config.ts launches it (BROWSER.md). */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

const base = process.env.BASE_URL;
const email = process.env.ADFORGE_E2E_EMAIL;
const password = process.env.ADFORGE_E2E_PASSWORD;
const runs = Number(process.argv[2] ?? 5);
if (!base || !email || !password) {
  console.error('set BASE_URL, ADFORGE_E2E_EMAIL and ADFORGE_E2E_PASSWORD');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: CHROMIUM_ARGS,
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
await context.addInitScript(() => {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, end: e.startTime + e.duration });
  }).observe({ type: 'longtask', buffered: true });
});
const page = await context.newPage();
const login = await page.request.post(`${base}/api/auth/login`, { data: { email, password } });
if (!login.ok()) throw new Error(`sign-in failed: ${login.status()}`);

const results = [];
for (let i = 0; i < runs; i++) {
  await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
  await page.locator('tbody tr').first().waitFor({ timeout: 30_000 });
  const rowsAt = await page.evaluate(() => performance.now());
  // Every row's metrics are in (no row shows the loading mark), and the page is quiet.
  await page.waitForFunction(() => !document.querySelector('main [role="status"]'), null, { timeout: 30_000 });
  const metricsAt = await page.evaluate(() => performance.now());
  await page.waitForTimeout(500);
  const r = await page.evaluate(([rows, metrics]) => {
    const nav = performance.getEntriesByType('navigation')[0];
    const tasks = window.__longTasks;
    const lastTask = tasks.reduce((m, t) => Math.max(m, t.end), 0);
    return {
      domContentLoaded: nav.domContentLoadedEventEnd,
      rowsRendered: rows,
      metricsRendered: metrics,
      tti: Math.max(metrics, lastTask),
      longTasks: tasks.length,
      rows: document.querySelectorAll('tbody tr').length,
    };
  }, [rowsAt, metricsAt]);
  results.push(r);
}
await browser.close();

const median = (k) => {
  const v = results.map((r) => r[k]).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)];
};
const out = {
  runs,
  rows_per_page: results[0].rows,
  dom_content_loaded_ms: Math.round(median('domContentLoaded')),
  rows_rendered_ms: Math.round(median('rowsRendered')),
  metrics_rendered_ms: Math.round(median('metricsRendered')),
  time_to_interactive_ms: Math.round(median('tti')),
  long_tasks: median('longTasks'),
};
console.log(JSON.stringify(out, null, 2));
