// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Deployments, deployBody, needsApproval } from '@/components/pages/Deploy';
import OptimizerPanel, { noProposal } from '@/components/analytics/OptimizerPanel';
import PlanView, { budgetCheck } from '@/components/campaign/PlanView';
import { ApiError } from '@/lib/api';
import type { Campaign, PlanView as PlanData } from '@/lib/types';
import { StatusBadge, th, tdLabel, tdNum } from '@/components/ui';
import { apiError, stubFetch } from './fetchStub';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const campaign = (over: Partial<Campaign> = {}): Campaign => ({
  id: 'c1', name: 'Ridgeline Roasters · coffee subscription', objective: 'sales', status: 'draft', currency: 'USD', daily_budget: '107.14',
  start_date: '2026-12-14', end_date: '2027-01-10', platforms: ['meta', 'google', 'tiktok'], brief: null, version: 1, created_at: 0, updated_at: 0, ...over,
});

const PLAN: PlanData = {
  campaign_id: 'c1',
  plan: {
    name: 'Ridgeline Roasters · coffee subscription · Dec 2026',
    currency: 'USD',
    total_budget_micros: 3_000_000_000,
    daily_budget_micros: 107_140_000,
    unallocated_micros: 80_000,
    schedule: { start_date: '2026-12-14', end_date: '2027-01-10', days: 28, phases: [] },
    channels: [
      { platform: 'meta', daily_budget_micros: 35_720_000, share: 0.3334, weight: 1, audience: { name: 'Ridgeline Roasters · home baristas', description: 'home baristas', countries: ['US'], age_min: 25, age_max: 54, interests: ['specialty coffee'] } },
      { platform: 'google', daily_budget_micros: 35_710_000, share: 0.3333, weight: 1, audience: { name: 'Ridgeline Roasters · search', countries: ['US'] } },
      { platform: 'tiktok', daily_budget_micros: 35_710_000, share: 0.3333, weight: 1, audience: { name: 'Ridgeline Roasters · tiktok' } },
    ],
    concepts: [{ name: 'Roasted to order', angle: 'freshness', copy: { meta: { headline: 'Fresh beans weekly', primary_text: 'Roasted the day it ships.' } } }],
  },
  ad_sets: [
    { id: 'a1', platform: 'meta', name: 'Ridgeline Roasters · meta', targeting: { countries: ['US'] }, daily_budget_micros: 35_720_000, status: 'draft', version: 1 },
    { id: 'a2', platform: 'google', name: 'Ridgeline Roasters · google', targeting: {}, daily_budget_micros: 35_710_000, status: 'draft', version: 1 },
    { id: 'a3', platform: 'tiktok', name: 'Ridgeline Roasters · tiktok', targeting: {}, daily_budget_micros: 35_710_000, status: 'draft', version: 1 },
  ],
};

describe('Deploy', () => {
  it('asks before approving a draft, then sends approve', async () => {
    const calls = stubFetch([
      ['GET', /^\/api\/deployments\?/, { json: { deployments: [] } }],
      ['POST', /^\/api\/deployments$/, { status: 202, json: { job_id: 'j9' } }],
      ['GET', /^\/api\/jobs\/j9$/, { json: { id: 'j9', state: 'queued', progress: 0, message: '', queue_position: 0 } }],
    ]);
    const reload = vi.fn();
    render(<Deployments campaign={campaign()} reload={reload} />);
    expect(screen.getByTestId('campaign-status').textContent).toMatch(/draft/);
    fireEvent.click(screen.getByTestId('rehearse'));
    const confirm = screen.getByTestId('confirm-approve');
    expect(confirm.textContent).toMatch(/Deploying approves the plan/);
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(0);
    fireEvent.click(within(confirm).getByTestId('confirm-deploy'));
    await waitFor(() => expect(calls.filter((c) => c.method === 'POST')).toHaveLength(1));
    expect(calls.find((c) => c.method === 'POST')!.body).toEqual({ campaign_id: 'c1', platform: 'sandbox', approve: true });
    await waitFor(() => expect(reload).toHaveBeenCalled());
  });

  it('deploys an approved plan straight away and offers real platforms only', async () => {
    const calls = stubFetch([
      ['GET', /^\/api\/deployments\?/, { json: { deployments: [] } }],
      ['POST', /^\/api\/deployments$/, { status: 202, json: {} }],
    ]);
    render(<Deployments campaign={campaign({ status: 'active' })} reload={() => {}} />);
    const options = [...screen.getByRole('combobox').querySelectorAll('option')].map((o) => o.value);
    expect(options).toEqual(['meta', 'google', 'tiktok']);
    fireEvent.click(screen.getByTestId('deploy'));
    await waitFor(() => expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ campaign_id: 'c1', platform: 'meta' }));
    expect(screen.queryByTestId('confirm-approve')).toBeNull();
  });

  it('turns a 409 asking for approval into the confirmation', async () => {
    stubFetch([
      ['GET', /^\/api\/deployments\?/, { json: { deployments: [] } }],
      ['POST', /^\/api\/deployments$/, apiError(409, 'status: the plan is a draft; approve it first, or send "approve": true', 'not_approved')],
    ]);
    render(<Deployments campaign={campaign({ status: 'paused' })} reload={() => {}} />);
    fireEvent.click(screen.getByTestId('deploy'));
    await waitFor(() => expect(screen.getByTestId('confirm-approve').textContent).toMatch(/approve it first/));
  });

  it('builds the body and knows the approval answer', () => {
    expect(deployBody('c1', { platform: 'google', rehearsal: true }, false)).toEqual({ campaign_id: 'c1', platform: 'sandbox' });
    expect(needsApproval(new ApiError(409, 'conflict', 'approve the plan first'))).toBe(true);
    expect(needsApproval(new ApiError(409, 'conflict', 'version changed'))).toBe(false);
  });
});

describe('OptimizerPanel', () => {
  it('shows why there is no proposal, and each proposal’s reason', async () => {
    stubFetch([
      ['GET', /\/actions$/, { json: { actions: [] } }],
      ['GET', /\/plan$/, { json: PLAN }],
      ['POST', /\/optimize$/, { json: { run: { id: 'r', trace: [], output: null }, actions: [], no_proposal_reason: 'leader C2 at 71% chance to be best; proposals start at 95%', metric: 'roas' } }],
    ]);
    render(<OptimizerPanel campaignId="c1" currency="USD" />);
    await screen.findByTestId('ad-set-budgets');
    expect(screen.queryByText(/needs a few days of synced metrics/)).toBeNull();
    fireEvent.click(screen.getByTestId('run-optimizer'));
    const reason = await screen.findByTestId('no-proposal-reason');
    expect(reason.textContent).toMatch(/leader C2 at 71% chance to be best; proposals start at 95%/);
    expect(reason.textContent).toMatch(/return on ad spend/);
  });

  it('names creatives in proposals and shows the reason', async () => {
    stubFetch([
      ['GET', /\/actions$/, { json: { actions: [{ id: 'x1', campaign_id: 'c1', run_id: 'r', kind: 'pause_creative', params: { creative_id: 'cr-123456789', platform: 'meta' }, reason: 'ROAS 0.26x against 0.64x: 97% chance it is worse', status: 'proposed', result: null, created_at: 0, decided_at: null }] } }],
      ['GET', /\/plan$/, { json: PLAN }],
    ]);
    render(<OptimizerPanel campaignId="c1" currency="USD" labels={new Map([['cr-123456789', 'Roasted to order · meta · stories 1080×1920']])} />);
    expect((await screen.findByTestId('proposal-reason')).textContent).toBe('ROAS 0.26x against 0.64x: 97% chance it is worse');
    expect(screen.getByText(/pause Roasted to order · meta · stories 1080×1920 on meta/)).toBeTruthy();
  });

  it('reads the reason from the run where the top level lacks it', () => {
    expect(noProposal({ actions: [], run: { output: { no_proposal_reason: 'too few days', metric: 'cpa' } } })).toEqual({ reason: 'too few days', metric: 'cpa' });
    expect(noProposal({ actions: [{} as never], no_proposal_reason: 'x' })).toBeNull();
  });
});

describe('PlanView', () => {
  it('adds the money up exactly', () => {
    const check = budgetCheck(PLAN.plan, PLAN.ad_sets);
    expect(check).toMatchObject({ dailySum: 107_140_000, scheduled: 2_999_920_000, unallocated: 80_000, dailyAddsUp: true, totalAddsUp: true });
  });

  it('shows names, audiences, amounts and concepts', () => {
    render(<PlanView campaign={campaign()} data={PLAN} />);
    expect(screen.getByTestId('plan-name').textContent).toBe('Ridgeline Roasters · coffee subscription · Dec 2026');
    const meta = screen.getByTestId('plan-channel-meta');
    expect(meta.textContent).toMatch(/Ridgeline Roasters · home baristas/);
    expect(meta.textContent).toMatch(/US · ages 25–54 · interests: specialty coffee/);
    expect(meta.textContent).toMatch(/\$35\.72 a day/);
    expect(screen.getByTestId('ad-sets-daily-sum').textContent).toBe('$107.14');
    expect(screen.getByTestId('plan-budget-check').textContent).toMatch(/Over 28 days that is \$2,999\.92, plus \$0\.08 left unallocated: \$3,000\.00, the total budget exactly\./);
    expect(screen.getByTestId('plan-unallocated')).toBeTruthy();
    expect(screen.getByTestId('plan-concept-0').textContent).toMatch(/Fresh beans weekly/);
  });
});

describe('tables never break numbers or labels', () => {
  it('keeps headers, numbers, labels and statuses on one line', () => {
    for (const cls of [th, tdNum, tdLabel]) expect(cls.split(' ')).toContain('whitespace-nowrap');
    render(<StatusBadge status="active" />);
    expect(screen.getByText('active').className).toContain('whitespace-nowrap');
  });

  it('rendered money and status cells carry nowrap', () => {
    render(<PlanView campaign={campaign()} data={PLAN} />);
    const table = screen.getByTestId('ad-sets');
    for (const h of table.querySelectorAll('th')) expect(h.className).toContain('whitespace-nowrap');
    const budget = screen.getByTestId('budget-a1');
    expect(budget.textContent).toBe('$35.72');
    expect(budget.className).toContain('whitespace-nowrap');
    expect(within(table).getAllByText('draft')[0].closest('td')!.className).toContain('whitespace-nowrap');
  });

  it('does not let table cells break anywhere', () => {
    const css = readFileSync(resolve(__dirname, '../app/globals.css'), 'utf8');
    const anywhere = css.slice(0, css.indexOf('overflow-wrap: anywhere'));
    const selectors = anywhere.slice(anywhere.lastIndexOf('}') + 1);
    expect(selectors).not.toMatch(/\btd\b|\bth\b/);
    expect(css).toMatch(/td, th \{\s*overflow-wrap: normal;/);
  });
});
