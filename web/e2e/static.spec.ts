/**
 * Without a server: the export alone, served with the Content-Security-Policy the binary will
 * send (inline scripts allowed by the hashes of out/csp.json only). The sign-in page renders,
 * hydrates (the form works), passes axe, fits 375 px, and no script is refused by the policy;
 * a signed-out visit to a dashboard page lands on sign-in.
 */

import { expect, test } from '@playwright/test';
import { expectAccessible, expectFitsNarrowScreen, screenshot } from './helpers';

test('sign-in renders under the CSP, hydrates and passes axe', async ({ page }, testInfo) => {
  const refused: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) refused.push(m.text());
  });
  await page.goto('/signin/');
  await expect(page.getByRole('heading', { name: 'Sign in to adforge' })).toBeVisible();
  await page.getByLabel('Email').fill('someone@example.com');
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  // The static server answers every API call 401 in the error envelope: the message shows.
  await expect(page.getByRole('alert').filter({ hasText: 'missing session' })).toBeVisible();
  await expectAccessible(page, testInfo, 'signin');
  await screenshot(page, 'signin');
  await expectFitsNarrowScreen(page);
  expect(refused, 'scripts refused by the CSP').toEqual([]);
});

test('a signed-out visit goes to sign-in and comes back after', async ({ page }) => {
  await page.goto('/jobs/');
  await expect(page).toHaveURL(/\/signin\/\?next=%2Fjobs%2F/);
  await expect(page.getByRole('heading', { name: 'Sign in to adforge' })).toBeVisible();
});
