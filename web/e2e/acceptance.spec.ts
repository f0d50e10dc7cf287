/**
 * Acceptance in the browser (issue 21, point 8), against a running adforge server (BASE_URL) on
 * its default text model (SmolLM2-135M): three made-up campaigns are planned through the New
 * campaign form, each in another currency, with a total that does not divide by its schedule's
 * days, its own schedule and platforms, and a fixed seed (added to the form's request, which
 * has no seed field). Each plan is approved (PATCH status active) and edited (a rename), then
 * checked on the page and through the API: the names, brand and audiences come from the brief;
 * the money adds up to the total exactly in whole minor units; every copy field passes the
 * guards of ./copyGuards.ts. One campaign is then rehearsed in the sandbox with one creative
 * made to lose; the optimizer proposes pausing it, the proposal is approved, and the paused
 * creative's spend stops while the other keeps delivering.
 *
 * Screenshots (web/e2e/screenshots/): acceptance-new-campaign, acceptance-plan,
 * acceptance-optimizer, connections.
 */

import { expect, test, type APIRequestContext, type Page, type TestInfo } from '@playwright/test';
import { type BriefFacts, Facts } from './copyGuards';
import { SKIP_REASON, credentials, needsServer, screenshot, settled, signIn } from './helpers';

test.skip(needsServer, SKIP_REASON);

/** Planning runs the model on the server's CPU (about 30 to 90 s a campaign on 2 cores). */
const JOB_TIMEOUT = 5 * 60_000;
const CSRF = { 'X-Requested-With': 'adforge' };

interface Campaign extends BriefFacts {
  brand: string;
  offer: string;
  currency: string;
  /** As typed in the form. */
  total: string;
  start: string;
  end: string;
  days: number;
  platforms: ('meta' | 'google' | 'tiktok')[];
  countries: string[];
  ageMin: number;
  ageMax: number;
  seed: number;
  landing: string;
}

const CAMPAIGNS: Campaign[] = [
  {
    brand: 'Kumo Cycles',
    product: 'folding city bicycle',
    benefits: ['folds in ten seconds', 'fits under a desk', 'light enough to carry upstairs'],
    offer: 'Free helmet with every bike',
    audience: 'commuters who ride to the station and work in small offices',
    interests: ['cycling', 'urban commuting'],
    currency: 'JPY',
    total: '123457',
    start: '2027-05-01',
    end: '2027-05-31',
    days: 31,
    platforms: ['meta'],
    countries: ['JP'],
    ageMin: 20,
    ageMax: 45,
    seed: 3102,
    landing: 'https://kumo.example.com/folding',
  },
  {
    brand: 'Tidewater Tea Co',
    product: 'loose leaf green tea sampler',
    benefits: ['brewed fresh in 3 minutes', 'grown on small farms'],
    offer: 'Free shipping on 2 tins',
    audience: 'tea lovers who brew at home every morning',
    interests: ['green tea', 'mindful living'],
    currency: 'USD',
    total: '2100.10',
    start: '2027-03-01',
    end: '2027-03-28',
    days: 28,
    platforms: ['meta', 'google', 'tiktok'],
    countries: ['US', 'CA'],
    ageMin: 25,
    ageMax: 54,
    seed: 2101,
    landing: 'https://tidewater.example.com/sampler',
  },
  {
    brand: 'Lumen Garden',
    product: 'solar garden lanterns',
    benefits: ['charge in the sun all day', 'glow for 8 hours'],
    offer: 'Two lanterns for the price of one',
    audience: 'gardeners who host summer evenings outdoors',
    interests: ['gardening', 'outdoor lighting'],
    currency: 'EUR',
    total: '999.99',
    start: '2027-09-06',
    end: '2027-09-12',
    days: 7,
    platforms: ['google', 'tiktok'],
    countries: ['DE', 'FR', 'NL'],
    ageMin: 30,
    ageMax: 65,
    seed: 4103,
    landing: 'https://lumen.example.com/lanterns',
  },
];

/** The campaign rehearsed in the sandbox: one platform keeps its creatives few and the run short. */
const REHEARSED = CAMPAIGNS[0];

/** Copy-to-action buttons per platform (orchestrate/copy.rs). */
const CALLS_TO_ACTION: Record<string, string[]> = {
  meta: ['Shop Now', 'Learn More', 'Sign Up', 'Book Now', 'Get Offer', 'Order Now', 'Download', 'Subscribe', 'Contact Us'],
  google: ['Shop now', 'Learn more', 'Sign up', 'Book now', 'Get quote', 'Apply now', 'Contact us', 'Download', 'Subscribe'],
  tiktok: ['Shop now', 'Learn more', 'Sign up', 'Book now', 'Download', 'Order now', 'Contact us', 'Apply now'],
};

/** Character limits of the copy fields per platform (orchestrate/copy.rs: Meta's recommended, Google responsive display, TikTok). */
const COPY_LIMITS: Record<string, Record<string, number>> = {
  meta: { headline: 40, primary_text: 125, description: 30 },
  google: { headline: 30, primary_text: 90, description: 90 },
  tiktok: { headline: 40, primary_text: 100, description: 100 },
};

/** Micros in one minor unit (JPY has none: a whole yen). */
function minorMicros(currency: string): number {
  return ({ JPY: 1_000_000, KWD: 1_000 } as Record<string, number>)[currency] ?? 10_000;
}

/** "2100.10" → 2_100_100_000 (exact: integers only). */
function toMicros(decimal: string): number {
  const [whole, fraction = ''] = decimal.split('.');
  return Number(whole) * 1_000_000 + Number(fraction.padEnd(6, '0'));
}

/** The digits a page shows for an amount ("$18.67" → "1867", "¥3,982" → "3982"). */
function shownDigits(micros: number, currency: string): string {
  return String(micros / minorMicros(currency));
}
const digits = (text: string | null) => (text ?? '').replace(/\D/g, '');

interface PlanView {
  campaign_id: string;
  plan: {
    name: string;
    brand?: string;
    currency: string;
    total_budget_micros: number;
    daily_budget_micros: number;
    unallocated_micros: number;
    schedule: { start_date: string; end_date: string; days: number };
    channels: {
      platform: string;
      daily_budget_micros: number;
      audience: { name: string; description: string; countries: string[]; age_min: number; age_max: number; interests: string[] };
    }[];
    concepts: { name: string; angle: string; copy: Record<string, Record<string, string>>; copy_sources?: Record<string, unknown> }[];
    phrase_checks?: { proposed: number; accepted: number; rejected: { field: string; text: string; reason: string }[] };
  };
  ad_sets: {
    id: string;
    platform: string;
    name: string;
    targeting: { description?: string; countries?: string[]; age_min?: number; age_max?: number; interests?: string[] };
    daily_budget_micros: number;
    status: string;
  }[];
}

async function getJson<T>(request: APIRequestContext, path: string): Promise<T> {
  const r = await request.get(path);
  expect(r.status(), `GET ${path}: ${await r.text().catch(() => '')}`).toBe(200);
  return (await r.json()) as T;
}

async function waitForJob(page: Page, title: RegExp | string) {
  const job = page.getByTestId('job-progress').filter({ hasText: title }).last();
  await expect(job).toBeVisible();
  await expect(job.getByText(/^(succeeded|failed|cancelled)$/).first()).toBeVisible({ timeout: JOB_TIMEOUT });
  await expect(job.getByText('succeeded', { exact: true }).first()).toBeVisible();
}

/** The newest campaign whose name holds the brand (a campaign planned by an earlier test). */
async function findCampaign(request: APIRequestContext, brand: string): Promise<string | null> {
  const list = await getJson<{ campaigns: { id: string; name: string; created_at: number }[] }>(request, '/api/campaigns?limit=100');
  const mine = list.campaigns.filter((c) => c.name.includes(brand)).sort((a, b) => b.created_at - a.created_at);
  return mine[0]?.id ?? null;
}

/** Fills the New campaign form with a brief; the seed is added to the request it sends. */
async function fillBrief(page: Page, c: Campaign) {
  await page.goto('/new/');
  await page.getByLabel('Brand', { exact: true }).fill(c.brand);
  await page.getByLabel('Goal').selectOption('sales');
  await page.getByLabel('Product', { exact: true }).fill(c.product);
  for (const [i, b] of c.benefits.entries()) await page.getByLabel(`Benefit ${i + 1}`, { exact: true }).fill(b);
  await page.getByLabel('Offer', { exact: true }).fill(c.offer);
  await page.getByLabel('Landing page').fill(c.landing);
  await page.getByLabel('Currency', { exact: true }).fill(c.currency);
  await page.getByLabel('Total budget').fill(c.total);
  await page.getByLabel('Start date').fill(c.start);
  await page.getByLabel('End date').fill(c.end);
  for (const p of c.platforms) await page.getByRole('checkbox', { name: p, exact: true }).check();
  for (const p of ['meta', 'google', 'tiktok'].filter((p) => !c.platforms.includes(p as Campaign['platforms'][number]))) {
    await expect(page.getByRole('checkbox', { name: p, exact: true })).not.toBeChecked();
  }
  await expect(page.getByTestId('rehearse-only')).not.toBeChecked();
  await page.getByLabel('Audience', { exact: true }).fill(c.audience);
  await page.getByLabel('Countries').fill(c.countries.join(', '));
  await page.getByLabel('Minimum age').fill(String(c.ageMin));
  await page.getByLabel('Maximum age').fill(String(c.ageMax));
  await page.getByLabel('Interests').fill(c.interests.join(', '));
}

/** The plan's money and facts against the brief (API), with every copy field through the guards. */
function checkPlan(view: PlanView, c: Campaign, testInfo: TestInfo) {
  const { plan, ad_sets: adSets } = view;
  const minor = minorMicros(c.currency);
  const total = toMicros(c.total);
  const label = `${c.brand} (${c.currency})`;

  // Names and brand from the brief.
  expect(plan.name, `${label}: the plan's name holds the brand`).toContain(c.brand);
  expect.soft(plan.brand ?? c.brand, `${label}: the plan's brand`).toBe(c.brand);
  expect(plan.currency).toBe(c.currency);

  // Money: the total exactly, whole minor units, the daily budget over the schedule plus what is
  // left unallocated is the total, and the remainder is less than a minor unit a day.
  expect(plan.total_budget_micros, `${label}: total_budget_micros is the brief's total`).toBe(total);
  expect(plan.schedule.days).toBe(c.days);
  expect(plan.schedule.start_date).toBe(c.start);
  expect(plan.schedule.end_date).toBe(c.end);
  expect(plan.daily_budget_micros % minor, `${label}: the daily budget is whole minor units`).toBe(0);
  expect(plan.unallocated_micros % minor, `${label}: unallocated is whole minor units`).toBe(0);
  expect(plan.daily_budget_micros * plan.schedule.days + plan.unallocated_micros, `${label}: daily × days + unallocated = total`).toBe(total);
  expect(plan.unallocated_micros).toBeGreaterThanOrEqual(0);
  expect(plan.unallocated_micros, `${label}: less than a minor unit a day is left unallocated`).toBeLessThan(plan.schedule.days * minor);

  // Channels: the brief's platforms (no sandbox share), whole minor units adding up to the daily budget.
  expect(plan.channels.map((ch) => ch.platform).sort()).toEqual([...c.platforms].sort());
  for (const ch of plan.channels) {
    expect(ch.daily_budget_micros % minor, `${label}: ${ch.platform} daily amount ${ch.daily_budget_micros} is whole minor units`).toBe(0);
    expect(ch.daily_budget_micros).toBeGreaterThan(0);
    const a = ch.audience;
    expect(a.description, `${label}: ${ch.platform} audience is the brief's`).toBe(c.audience);
    expect(a.countries).toEqual(c.countries);
    expect(a.age_min).toBe(c.ageMin);
    expect(a.age_max).toBe(c.ageMax);
    expect(a.interests).toEqual(c.interests);
    for (const country of c.countries) expect(a.name).toContain(country);
    expect(a.name).toContain(`${c.ageMin}–${c.ageMax}`);
  }
  expect(plan.channels.reduce((n, ch) => n + ch.daily_budget_micros, 0), `${label}: channels add up to the daily budget`).toBe(plan.daily_budget_micros);

  // Ad sets: one per platform, named and targeted from the brief, adding up to the daily budget.
  expect(adSets.map((a) => a.platform).sort()).toEqual([...c.platforms].sort());
  for (const a of adSets) {
    expect(a.daily_budget_micros % minor, `${label}: ad set ${a.name} daily amount is whole minor units`).toBe(0);
    for (const country of c.countries) expect(a.name, `${label}: ad set name from the brief`).toContain(country);
    expect(a.name).toContain(`${c.ageMin}–${c.ageMax}`);
    expect(a.targeting.description, `${label}: ad set audience is the brief's`).toBe(c.audience);
    expect(a.targeting.countries).toEqual(c.countries);
    expect(a.targeting.age_min).toBe(c.ageMin);
    expect(a.targeting.age_max).toBe(c.ageMax);
  }
  expect(adSets.reduce((n, a) => n + a.daily_budget_micros, 0), `${label}: ad sets add up to the daily budget`).toBe(plan.daily_budget_micros);

  // Copy: every field of every concept on every platform passes the guards.
  const facts = new Facts(c);
  const problems: string[] = [];
  const notes: string[] = [];
  expect(plan.concepts.length, `${label}: concepts`).toBeGreaterThan(0);
  for (const [i, concept] of plan.concepts.entries()) {
    for (const [field, text] of [['name', concept.name], ['angle', concept.angle]] as const) {
      const v = facts.check(`concepts[${i}].${field}`, text);
      problems.push(...v.problems);
      notes.push(...v.notes);
    }
    expect(Object.keys(concept.copy).sort(), `${label}: concept ${i} has copy for each platform`).toEqual([...c.platforms].sort());
    for (const [platform, copy] of Object.entries(concept.copy)) {
      for (const field of ['headline', 'primary_text', 'description']) {
        const limit = COPY_LIMITS[platform]?.[field];
        const v = facts.check(`concepts[${i}].copy.${platform}.${field}`, copy[field], limit);
        if (limit !== undefined && typeof copy[field] === 'string' && [...copy[field]].length > limit) {
          problems.push(`concepts[${i}].copy.${platform}.${field}: over ${limit} characters`);
        }
        problems.push(...v.problems);
        notes.push(...v.notes);
      }
      expect.soft(CALLS_TO_ACTION[platform], `${label}: ${platform} call to action`).toContain(copy.call_to_action);
    }
  }
  testInfo.annotations.push({
    type: `copy ${label}`,
    description: JSON.stringify({
      concepts: plan.concepts.map((x) => ({ name: x.name, angle: x.angle, copy: x.copy, sources: x.copy_sources })),
      phrase_checks: plan.phrase_checks && { proposed: plan.phrase_checks.proposed, accepted: plan.phrase_checks.accepted, rejected: plan.phrase_checks.rejected.length },
      notes,
    }),
  });
  if (notes.length) console.log(`[acceptance] ${label}: copy accepted by a relaxation:\n  ${notes.join('\n  ')}`);
  expect.soft(problems, `${label}: copy that breaks a guard`).toEqual([]);
}

/** What the plan page shows: name, audiences, ad sets with their amounts, the money check, the copy. */
async function checkPlanPage(page: Page, view: PlanView, c: Campaign) {
  const { plan } = view;
  await expect(page.getByTestId('campaign-name')).toContainText(c.brand);
  await expect(page.getByTestId('plan-name')).toContainText(c.brand);
  expect(digits(await page.getByTestId('plan-total').textContent()), 'the total shown').toBe(shownDigits(plan.total_budget_micros, c.currency));
  expect(digits(await page.getByTestId('plan-daily').textContent()), 'the daily budget shown').toBe(shownDigits(plan.daily_budget_micros, c.currency));
  const descriptions = page.getByTestId('audience-description');
  await expect(descriptions).toHaveCount(c.platforms.length);
  for (const text of await descriptions.allTextContents()) expect(text.trim()).toBe(c.audience);
  for (const t of await page.getByTestId('audience-targeting').allTextContents()) {
    for (const country of c.countries) expect(t).toContain(country);
    expect(t).toContain(`${c.ageMin}–${c.ageMax}`);
  }
  for (const a of view.ad_sets) {
    expect(digits(await page.getByTestId(`budget-${a.id}`).textContent()), `ad set ${a.name} amount shown`).toBe(shownDigits(a.daily_budget_micros, c.currency));
  }
  expect(digits(await page.getByTestId('ad-sets-daily-sum').textContent())).toBe(shownDigits(plan.daily_budget_micros, c.currency));
  await expect(page.getByTestId('plan-budget-check')).toContainText('the daily budget');
  await expect(page.getByTestId('plan-budget-check')).toContainText('the total budget exactly');
  if (plan.unallocated_micros > 0) {
    expect(digits(await page.getByTestId('plan-unallocated').textContent())).toContain(shownDigits(plan.unallocated_micros, c.currency));
  }
  await expect(page.getByTestId('concept-copy')).toHaveCount(plan.concepts.length * c.platforms.length);
}

for (const [n, c] of CAMPAIGNS.entries()) {
  test(`plan, approve and edit ${c.brand}: ${c.total} ${c.currency} over ${c.days} days on ${c.platforms.join(', ')}`, async ({ page }, testInfo) => {
    test.setTimeout(JOB_TIMEOUT + 3 * 60_000);
    await signIn(page, credentials(1)!);
    await fillBrief(page, c);
    if (n === 0) await screenshot(page, 'acceptance-new-campaign');

    // The form has no seed field: the request gets the campaign's fixed seed on its way out.
    let sent: Record<string, unknown> | null = null;
    await page.route('**/api/campaigns/plan', async (route) => {
      const request = route.request();
      if (request.method() !== 'POST') return route.continue();
      const body = JSON.parse(request.postData() ?? '{}') as Record<string, unknown>;
      body.seed ??= c.seed;
      sent = body;
      await route.continue({ postData: JSON.stringify(body) });
    });
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/campaigns/plan') && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Plan campaign' }).click();
    const planResponse = await answered;
    expect(planResponse.status(), await planResponse.text()).toBe(202);
    expect(sent, 'the form sent a brief').not.toBeNull();
    expect(sent).toMatchObject({
      brand: c.brand,
      product: c.product,
      benefits: c.benefits,
      offer: c.offer,
      audience: c.audience,
      countries: c.countries,
      age_min: c.ageMin,
      age_max: c.ageMax,
      interests: c.interests,
      currency: c.currency,
      total_budget: c.total,
      platforms: c.platforms,
      seed: c.seed,
    });
    const answer = (await planResponse.json()) as { seed?: number };
    if (answer.seed !== undefined) expect(answer.seed, 'the planner used the fixed seed').toBe(c.seed);

    await expect(page.getByTestId('job-progress')).toBeVisible();
    await page.waitForURL(/\/campaign\/\?id=/, { timeout: JOB_TIMEOUT });
    const campaignId = new URL(page.url()).searchParams.get('id')!;
    expect(campaignId).toBeTruthy();
    await expect(page.getByTestId('ad-sets')).toBeVisible();
    await settled(page);

    // Approve: PATCH status active, 200.
    const approved = page.waitForResponse((r) => r.url().endsWith(`/api/campaigns/${campaignId}`) && r.request().method() === 'PATCH');
    await page.getByTestId('approve-plan').click();
    const approveResponse = await approved;
    expect(approveResponse.status(), `Approve plan: ${await approveResponse.text()}`).toBe(200);
    expect(JSON.parse(approveResponse.request().postData() ?? '{}')).toEqual({ status: 'active' });
    await expect(page.getByTestId('campaign-state')).toContainText('active');
    await expect(page.getByRole('button', { name: 'Pause campaign' })).toBeVisible();

    // Edit: a rename that keeps the brand, saved with If-Match, 200.
    const before = await getJson<{ name: string; version: number }>(page.request, `/api/campaigns/${campaignId}`);
    const renamed = `${before.name} · acceptance`;
    await page.getByLabel('Name', { exact: true }).fill(renamed);
    const saved = page.waitForResponse((r) => r.url().endsWith(`/api/campaigns/${campaignId}`) && r.request().method() === 'PATCH');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const saveResponse = await saved;
    expect(saveResponse.status(), `Save changes: ${await saveResponse.text()}`).toBe(200);
    expect(saveResponse.request().headers()['if-match']).toBeTruthy();
    await expect(page.getByTestId('campaign-name')).toHaveText(renamed);

    const campaign = await getJson<{ name: string; status: string; currency: string; platforms: string[]; version: number }>(page.request, `/api/campaigns/${campaignId}`);
    expect(campaign.status).toBe('active');
    expect(campaign.name).toBe(renamed);
    expect(campaign.name).toContain(c.brand);
    expect(campaign.currency).toBe(c.currency);
    expect([...campaign.platforms].sort()).toEqual([...c.platforms].sort());
    expect(campaign.version).toBeGreaterThan(before.version);

    const view = await getJson<PlanView>(page.request, `/api/campaigns/${campaignId}/plan`);
    expect(view.campaign_id).toBe(campaignId);
    checkPlan(view, c, testInfo);
    await checkPlanPage(page, view, c);
    testInfo.annotations.push({
      type: `plan ${c.brand}`,
      description: JSON.stringify({
        campaign_id: campaignId,
        name: campaign.name,
        plan_name: view.plan.name,
        total_budget_micros: view.plan.total_budget_micros,
        daily_budget_micros: view.plan.daily_budget_micros,
        unallocated_micros: view.plan.unallocated_micros,
        days: view.plan.schedule.days,
        ad_sets: view.ad_sets.map((a) => ({ platform: a.platform, name: a.name, audience: a.targeting.description, daily_budget_micros: a.daily_budget_micros })),
      }),
    });
    // For the closing note: names, audiences and daily amounts, and their sum against the total.
    const money = (m: number) => `${m / 1_000_000} ${c.currency}`;
    const p = view.plan;
    console.log(
      [
        `[acceptance] ${campaign.name} (plan "${p.name}", seed ${c.seed})`,
        ...view.ad_sets.map((a) => `  ad set ${a.name}: ${money(a.daily_budget_micros)} a day, audience "${a.targeting.description}"`),
        `  daily ${money(p.daily_budget_micros)} × ${p.schedule.days} days + unallocated ${money(p.unallocated_micros)} = ${money(p.daily_budget_micros * p.schedule.days + p.unallocated_micros)} (total ${money(p.total_budget_micros)})`,
      ].join('\n'),
    );
    if (n === 1) await screenshot(page, 'acceptance-plan');
  });

  if (c === REHEARSED) {
    test(`rehearse ${c.brand} in the sandbox: a losing creative is paused on the optimizer's proposal`, async ({ page }, testInfo) => {
      test.setTimeout(10 * 60_000);
      await signIn(page, credentials(1)!);
      const campaignId = await findCampaign(page.request, c.brand);
      test.skip(!campaignId, `no campaign of ${c.brand}: its planning test did not get that far`);
      const id = campaignId!;
      const request = page.request;

      // Creatives: the plan's two concepts, one format, no video (the short form of the loop).
      await page.goto(`/campaign/?id=${id}`);
      await settled(page);
      const formatBoxes = page.getByRole('group', { name: 'Formats' }).getByRole('checkbox');
      const count = await formatBoxes.count();
      for (let i = 1; i < count; i++) await formatBoxes.nth(i).uncheck();
      await page.getByLabel('Also render a video per 9:16 format').uncheck();
      await page.getByLabel('Copy variants per platform').fill('2');
      await page.getByRole('button', { name: 'Generate', exact: true }).click();
      await waitForJob(page, 'Generating creatives');
      const creatives = (await getJson<{ creatives: { id: string; name: string; platform: string; status: string }[] }>(request, `/api/creatives?campaign_id=${id}&limit=100`)).creatives;
      expect(creatives.length, 'creatives made').toBeGreaterThanOrEqual(2);

      // Rehearse the whole plan in the sandbox (an approved plan: no confirmation; a draft one is approved in the step).
      await page.getByRole('link', { name: 'Deployment' }).click();
      await page.getByTestId('rehearse').click();
      const confirm = page.getByTestId('confirm-approve');
      if (await confirm.isVisible().catch(() => false)) await page.getByTestId('confirm-deploy').click();
      const card = page.locator('[data-testid="deployment"][data-platform="sandbox"]');
      const refused = page.locator('main').getByRole('alert').filter({ hasText: /\S/ }).first();
      await expect(card.or(refused).first()).toBeVisible({ timeout: 30_000 });
      if (!(await card.isVisible())) {
        throw new Error(`"Rehearse in the sandbox" was refused: ${await refused.textContent()} (the sandbox must rehearse any plan: issue 21, point 3)`);
      }
      await expect(card.getByText('active', { exact: true }).first()).toBeVisible({ timeout: JOB_TIMEOUT });
      const deployments = (await getJson<{ deployments: { id: string; platform: string; status: string }[] }>(request, `/api/deployments?campaign_id=${id}`)).deployments;
      const sandbox = deployments.find((d) => d.platform === 'sandbox');
      expect(sandbox, 'a sandbox deployment').toBeTruthy();
      const detail = await getJson<{ objects?: { kind: string; local_id: string; external_id: string }[] }>(request, `/api/deployments/${sandbox!.id}`);
      const ads = (detail.objects ?? []).filter((o) => o.kind === 'ad');
      const withAds = creatives.filter((cr) => ads.some((o) => o.local_id.endsWith(`:${cr.id}`)));
      expect(withAds.length, 'creatives with ads in the sandbox').toBeGreaterThanOrEqual(2);
      const loser = withAds[0];
      const others = withAds.filter((cr) => cr.id !== loser.id && cr.platform === loser.platform);
      expect(others.length, 'a creative the loser competes with').toBeGreaterThan(0);

      // ASSUMED ENDPOINT (being added to the server): POST /api/deployments/{id}/sandbox/rates
      // {creative_id, conversion_rate_factor} makes one creative convert at a tenth of its
      // hidden rate from the next simulated day on.
      const rates = await request.post(`/api/deployments/${sandbox!.id}/sandbox/rates`, {
        data: { creative_id: loser.id, conversion_rate_factor: 0.1 },
        headers: CSRF,
      });
      expect(rates.status(), `POST /api/deployments/{id}/sandbox/rates (the rehearsal's test hook): ${await rates.text()}`).toBe(200);

      // Two weeks of simulated delivery.
      await card.getByTestId('sync-days').fill('14');
      await card.getByTestId('sync').click();
      await waitForJob(page, 'Simulating 14 days');

      // The optimizer, on the analytics page, proposes pausing the loser (or scaling the other).
      await page.getByRole('link', { name: 'Analytics' }).click();
      await page.getByTestId('run-optimizer').click();
      const proposals = page.locator('[data-testid="action"][data-status="proposed"]');
      const none = page.getByTestId('no-proposal-reason');
      const answered = await proposals.first().or(none).first().waitFor({ timeout: 30_000 }).then(() => true, () => false);
      if (!answered) {
        const panel = await page.getByTestId('run-optimizer').locator('xpath=ancestor::section[1]').textContent().catch(() => '');
        throw new Error(`the optimizer proposed nothing and the page gives no reason (testid no-proposal-reason: issue 21, point 4); the panel reads: ${panel}`);
      }
      if (await none.isVisible()) {
        throw new Error(`the optimizer proposed nothing: ${await none.textContent()}`);
      }
      type Action = { id: string; kind: string; status: string; reason: string; params: { creative_id?: string; pause?: string[] } };
      const listed = (await getJson<{ actions: Action[] }>(request, `/api/campaigns/${id}/actions`)).actions;
      const pausesLoser = (a: Action) =>
        a.status === 'proposed' && ((a.kind === 'pause_creative' && a.params.creative_id === loser.id) || (a.kind === 'scale_winner' && (a.params.pause ?? []).includes(loser.id)));
      const proposal = listed.find(pausesLoser);
      expect(proposal, `a proposal that pauses the losing creative ${loser.id}; proposed: ${JSON.stringify(listed.filter((a) => a.status === 'proposed').map((a) => [a.kind, a.params, a.reason]))}`).toBeTruthy();
      expect(proposal!.reason, 'the reason, in words and numbers').toMatch(/\d/);
      // The panel lists the actions newest first.
      const row = page.getByTestId('action').nth(listed.length - 1 - listed.indexOf(proposal!));
      await expect(row).toHaveAttribute('data-kind', proposal!.kind);
      await expect(row.getByTestId('proposal-reason')).toHaveText(proposal!.reason);
      await settled(page);
      await screenshot(page, 'acceptance-optimizer');
      testInfo.annotations.push({ type: 'optimizer proposal', description: JSON.stringify({ kind: proposal!.kind, params: proposal!.params, reason: proposal!.reason }) });
      console.log(`[acceptance] ${c.brand}: the optimizer proposes ${proposal!.kind} ${JSON.stringify(proposal!.params)}: ${proposal!.reason}`);

      // Spend so far, per creative.
      type Row = { day: string; creative_id: string | null; spend_micros: number };
      const spendOf = (rows: Row[], creative: string, after = '') =>
        rows.filter((r) => r.creative_id === creative && r.day > after).reduce((n, r) => n + r.spend_micros, 0);
      const before = (await getJson<{ rows: Row[] }>(request, `/api/metrics?campaign_id=${id}&limit=1000`)).rows;
      const lastDay = before.map((r) => r.day).sort().pop() ?? '';
      expect(spendOf(before, loser.id), 'the loser delivered before the pause').toBeGreaterThan(0);

      // Approve: applied, and the loser is paused.
      await row.getByTestId('approve-action').click();
      await expect
        .poll(async () => (await getJson<{ actions: Action[] }>(request, `/api/campaigns/${id}/actions`)).actions.find((a) => a.id === proposal!.id)?.status, { timeout: 60_000 })
        .toBe('applied');

      // A week more: the paused creative spends nothing more; the other keeps delivering.
      await page.getByRole('link', { name: 'Deployment' }).click();
      await card.getByTestId('sync-days').fill('7');
      await card.getByTestId('sync').click();
      await waitForJob(page, 'Simulating 7 days');
      const after = (await getJson<{ rows: Row[] }>(request, `/api/metrics?campaign_id=${id}&limit=1000`)).rows;
      const newDays = [...new Set(after.map((r) => r.day).filter((d) => d > lastDay))];
      expect(newDays.length, 'days delivered after the approval').toBeGreaterThan(0);
      expect(spendOf(after, loser.id, lastDay), 'the paused creative spent nothing after the approval').toBe(0);
      expect(spendOf(after, loser.id), 'its total spend stopped growing').toBe(spendOf(before, loser.id));
      const kept = others.reduce((n, o) => n + spendOf(after, o.id, lastDay), 0);
      expect(kept, 'the other creatives kept delivering').toBeGreaterThan(0);
      testInfo.annotations.push({
        type: 'delivery after the pause',
        description: JSON.stringify({ loser: loser.id, loser_spend_micros: spendOf(after, loser.id), others_spend_after_micros: kept, days_after: newDays.length }),
      });
    });
  }
}

test('the connections page', async ({ page }) => {
  await signIn(page, credentials(1)!);
  await page.goto('/connections/');
  await expect(page.getByRole('heading', { name: 'Connections', level: 1 })).toBeVisible();
  await expect(page.getByTestId('connect-form').first()).toBeVisible();
  await settled(page);
  await screenshot(page, 'connections');
});
