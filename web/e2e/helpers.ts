/** Shared steps of the end-to-end specs: credentials, signing in, axe scans, screenshots. */

import AxeBuilder from '@axe-core/playwright';
import { expect, type Page, type TestInfo } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const SCREENSHOTS = join(__dirname, 'screenshots');

export interface Credentials {
  email: string;
  password: string;
}

/** A user from the environment; the spec is skipped with a message when it is missing. */
export function credentials(which: 1 | 2): Credentials | null {
  const suffix = which === 1 ? '' : '2';
  const email = process.env[`ADFORGE_E2E_EMAIL${suffix}`];
  const password = process.env[`ADFORGE_E2E_PASSWORD${suffix}`];
  return email && password ? { email, password } : null;
}

export const needsServer = !process.env.BASE_URL || !credentials(1);
export const SKIP_REASON = 'set BASE_URL, ADFORGE_E2E_EMAIL and ADFORGE_E2E_PASSWORD (and ...2 for the second user) to run against a server';

/** Signs in through the form and waits for the campaign list. */
export async function signIn(page: Page, who: Credentials): Promise<void> {
  await page.goto('/signin/');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Campaigns', level: 1 })).toBeVisible();
}

/** Runs axe on the page (WCAG 2.1 A and AA) and fails on serious or critical violations. */
export async function expectAccessible(page: Page, testInfo: TestInfo, label: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  await testInfo.attach(`axe-${label}.json`, { body: JSON.stringify(results.violations, null, 2), contentType: 'application/json' });
  expect(
    bad.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')})`),
    `axe on ${label}`,
  ).toEqual([]);
}

/** A full-page screenshot in e2e/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** At 375 px the page itself does not scroll sideways (wide tables scroll inside their region). */
export async function expectFitsNarrowScreen(page: Page): Promise<void> {
  const size = page.viewportSize();
  await page.setViewportSize({ width: 375, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, 'horizontal overflow at 375 px').toBeLessThanOrEqual(1);
  if (size) await page.setViewportSize(size);
}

/** Waits until no loading indicator is left in the main region. */
export async function settled(page: Page): Promise<void> {
  await page.waitForLoadState('networkidle').catch(() => undefined);
  await expect(page.locator('main [role="status"]').filter({ hasText: /Loading|Checking your session/ })).toHaveCount(0, { timeout: 30_000 });
}
