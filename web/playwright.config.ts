/**
 * End-to-end tests in a real Chromium (Debian's, at /usr/bin/chromium: no browser download).
 * `npm run e2e` runs every spec against a running adforge server at BASE_URL with the users
 * ADFORGE_E2E_EMAIL/PASSWORD and ADFORGE_E2E_EMAIL2/PASSWORD2. `npm run e2e:static` serves the
 * built export alone (no API) and checks what renders without one.
 */

import { defineConfig } from '@playwright/test';

const STATIC_PORT = 4173;
const isStatic = process.env.E2E_STATIC === '1';

export const CHROMIUM_ARGS = [
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

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  testIgnore: isStatic ? ['**/flow.spec.ts', '**/pages.spec.ts', '**/acceptance.spec.ts'] : ['**/static.spec.ts'],
  use: {
    baseURL: isStatic ? `http://127.0.0.1:${STATIC_PORT}` : process.env.BASE_URL,
    headless: true,
    viewport: { width: 1280, height: 900 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    },
    trace: 'retain-on-failure',
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: isStatic
    ? { command: `node scripts/serve-static.mjs out ${STATIC_PORT}`, url: `http://127.0.0.1:${STATIC_PORT}/signin/`, reuseExistingServer: false, timeout: 30_000 }
    : undefined,
});
