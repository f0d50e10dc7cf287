'use client';

/**
 * The stored plan (`GET /api/campaigns/{id}/plan`), as a marketer approves it: its name,
 * schedule and money (the ad sets' daily amounts, their sum against the daily budget, and the
 * schedule's sum against the total with what is left unallocated), the audience of each
 * channel (from the brief), KPIs, and the concepts with their copy per platform.
 */

import { COPY_FIELDS } from '@/lib/copyLimits';
import { formatMoney } from '@/lib/money';
import { formatPercent } from '@/lib/metrics';
import type { AdSet, Campaign, Plan, PlanChannel, PlanView as PlanData } from '@/lib/types';
import CopyLine from '../CopyCounter';
import { Card, StatusBadge, TableWrap, td, tdLabel, tdNum, th } from '../ui';

export interface BudgetCheck {
  /** Sum of the ad sets' daily amounts. */
  dailySum: number;
  daily: number | null;
  days: number | null;
  /** The daily sum over the schedule. */
  scheduled: number | null;
  unallocated: number;
  total: number | null;
  /** The ad sets add up to the plan's daily budget. */
  dailyAddsUp: boolean | null;
  /** Schedule plus unallocated is the total, exactly. */
  totalAddsUp: boolean | null;
}

/** The plan's money, added up in micros (whole numbers: exact). */
export function budgetCheck(plan: Plan, adSets: readonly Pick<AdSet, 'daily_budget_micros'>[]): BudgetCheck {
  const dailySum = adSets.reduce((n, a) => n + a.daily_budget_micros, 0);
  const daily = plan.daily_budget_micros ?? null;
  const days = plan.schedule?.days ?? null;
  const unallocated = plan.unallocated_micros ?? 0;
  const total = plan.total_budget_micros ?? null;
  const scheduled = days !== null ? dailySum * days : null;
  return {
    dailySum,
    daily,
    days,
    scheduled,
    unallocated,
    total,
    dailyAddsUp: daily === null || adSets.length === 0 ? null : dailySum === daily,
    totalAddsUp: scheduled === null || total === null || adSets.length === 0 ? null : scheduled + unallocated === total,
  };
}

/** "US, CA · ages 25–44 · interests: specialty coffee, home barista". */
export function audienceWords(a: PlanChannel['audience'] | undefined): string {
  if (!a) return '';
  const parts: string[] = [];
  if (a.countries?.length) parts.push(a.countries.join(', '));
  if (a.age_min || a.age_max) parts.push(`ages ${a.age_min ?? 13}–${a.age_max ?? 65}`);
  if (a.interests?.length) parts.push(`interests: ${a.interests.join(', ')}`);
  return parts.join(' · ');
}

function MoneyCheck({ check, currency }: { check: BudgetCheck; currency: string }) {
  const money = (m: number | null) => formatMoney(m, currency);
  return (
    <div className="mt-3 rounded bg-slate-100 p-2 text-sm" data-testid="plan-budget-check">
      <p>
        Ad sets add up to <span className="whitespace-nowrap font-medium" data-testid="ad-sets-daily-sum">{money(check.dailySum)}</span> a day
        {check.daily !== null ? (
          <>
            {check.dailyAddsUp ? ', the daily budget' : <> against a daily budget of <span className="whitespace-nowrap">{money(check.daily)}</span></>}
          </>
        ) : null}
        .
      </p>
      {check.scheduled !== null && check.total !== null ? (
        <p>
          Over {check.days} days that is <span className="whitespace-nowrap font-medium">{money(check.scheduled)}</span>
          {check.unallocated ? <>, plus <span className="whitespace-nowrap">{money(check.unallocated)}</span> left unallocated</> : null}
          {check.totalAddsUp ? ': ' : ' against '}
          <span className="whitespace-nowrap font-medium">{money(check.total)}</span>
          {check.totalAddsUp ? ', the total budget exactly.' : ', the total budget.'}
        </p>
      ) : null}
    </div>
  );
}

export default function PlanView({ campaign, data }: { campaign: Campaign; data: PlanData }) {
  const plan = data.plan;
  const cur = plan.currency ?? campaign.currency;
  const check = budgetCheck(plan, data.ad_sets);
  return (
    <>
      <Card title="Plan">
        {plan.name ? <h3 className="mb-2 text-lg font-semibold" data-testid="plan-name">{plan.name}</h3> : null}
        <dl className="grid grid-cols-2 gap-3 text-sm md:grid-cols-4">
          <div><dt className="text-slate-600">Total budget</dt><dd className="whitespace-nowrap font-medium" data-testid="plan-total">{formatMoney(plan.total_budget_micros, cur)}</dd></div>
          <div>
            <dt className="text-slate-600">Daily budget</dt>
            <dd className="whitespace-nowrap font-medium" data-testid="plan-daily">{formatMoney(plan.daily_budget_micros, cur)}</dd>
            {plan.unallocated_micros ? (
              <dd className="text-xs text-slate-600" data-testid="plan-unallocated">
                {formatMoney(plan.unallocated_micros, cur)} of the total is left unallocated, so that the daily budget is a whole amount
              </dd>
            ) : null}
          </div>
          <div><dt className="text-slate-600">Schedule</dt><dd className="font-medium">{plan.schedule ? `${plan.schedule.start_date} → ${plan.schedule.end_date} (${plan.schedule.days} days)` : '—'}</dd></div>
          <div><dt className="text-slate-600">Landing page</dt><dd className="break-all font-medium">{plan.landing_url ?? '—'}</dd></div>
        </dl>
        {plan.schedule?.phases?.length ? (
          <ol className="mt-3 list-inside list-decimal text-sm text-slate-800">
            {plan.schedule.phases.map((p) => (
              <li key={p.name}><span className="font-medium">{p.name}</span> ({p.days} days): {p.rule}</li>
            ))}
          </ol>
        ) : null}
      </Card>
      <Card title="Budget by ad set">
        <TableWrap label="Ad sets">
          <table className="w-full min-w-[560px] border-collapse" data-testid="ad-sets">
            <thead>
              <tr>
                <th scope="col" className={th}>Platform</th>
                <th scope="col" className={th}>Ad set</th>
                <th scope="col" className={th}>Audience</th>
                <th scope="col" className={`${th} text-right`}>Daily budget</th>
                <th scope="col" className={`${th} text-right`}>Planned share</th>
                <th scope="col" className={th}>Status</th>
              </tr>
            </thead>
            <tbody>
              {data.ad_sets.map((a) => {
                const channel = plan.channels?.find((c) => c.platform === a.platform);
                const t = a.targeting as { description?: string; countries?: string[]; age_min?: number; age_max?: number; interests?: string[] };
                return (
                  <tr key={a.id}>
                    <td className={tdLabel}>{a.platform}</td>
                    <td className={td}>{a.name}</td>
                    <td className={`${td} text-xs`}>
                      {t.description ? <span className="block">{t.description}</span> : null}
                      <span className="text-slate-700">{audienceWords(t)}</span>
                    </td>
                    <td className={tdNum} data-testid={`budget-${a.id}`}>{formatMoney(a.daily_budget_micros, cur)}</td>
                    <td className={tdNum}>{channel ? formatPercent(channel.share, 1) : '—'}</td>
                    <td className={tdLabel}><StatusBadge status={a.status} /></td>
                  </tr>
                );
              })}
            </tbody>
            {data.ad_sets.length > 0 ? (
              <tfoot>
                <tr className="bg-slate-50 font-semibold">
                  <th scope="row" colSpan={3} className={`${tdLabel} text-left`}>All ad sets, a day</th>
                  <td className={tdNum}>{formatMoney(check.dailySum, cur)}</td>
                  <td className={td} colSpan={2} />
                </tr>
              </tfoot>
            ) : null}
          </table>
        </TableWrap>
        <MoneyCheck check={check} currency={cur} />
      </Card>
      {plan.channels?.length ? (
        <Card title="Audiences">
          <div className="grid gap-3 md:grid-cols-2 lg:grid-cols-3">
            {plan.channels.map((c) => (
              <article key={c.platform} className="rounded border border-slate-200 p-3" data-testid={`plan-channel-${c.platform}`}>
                <div className="flex flex-wrap items-baseline justify-between gap-2">
                  <h3 className="font-medium">{c.audience?.name || c.platform}</h3>
                  <span className="whitespace-nowrap text-sm tabular-nums">
                    {formatMoney(c.daily_budget_micros, cur)} a day · {formatPercent(c.share, 1)}
                  </span>
                </div>
                <p className="text-xs uppercase text-slate-600">{c.platform}</p>
                {c.audience?.description ? <p className="mt-1 text-sm text-slate-800" data-testid="audience-description">{c.audience.description}</p> : null}
                <p className="mt-1 text-sm text-slate-700" data-testid="audience-targeting">{audienceWords(c.audience) || 'No targeting limits.'}</p>
              </article>
            ))}
          </div>
        </Card>
      ) : null}
      {plan.kpis?.length ? (
        <Card title="Targets">
          <ul className="grid gap-2 text-sm sm:grid-cols-2 md:grid-cols-5">
            {plan.kpis.map((k) => (
              <li key={k.name} className="rounded border border-slate-200 p-2">
                <span className="block text-slate-600">{k.name.replace('_', ' ')}</span>
                <span className="font-medium">
                  {typeof k.target === 'number' && (k.name === 'ctr' || k.name === 'conversion_rate')
                    ? formatPercent(k.target)
                    : typeof k.target === 'number' && k.name === 'cpa'
                      ? formatMoney(Math.round(k.target * 1e6), cur)
                      : String(k.target)}
                </span>
                <span className="block text-xs text-slate-600">from {k.basis}</span>
              </li>
            ))}
          </ul>
        </Card>
      ) : null}
      {plan.concepts?.length ? (
        <Card title="Concepts and copy">
          <div className="grid gap-3 md:grid-cols-2">
            {plan.concepts.map((c, i) => (
              <article key={`${c.name}-${i}`} className="rounded border border-slate-200 p-3" data-testid={`plan-concept-${i}`}>
                <h3 className="font-medium">{c.name}</h3>
                <p className="mb-2 text-sm text-slate-700">{c.angle}</p>
                {Object.entries(c.copy ?? {}).map(([platform, copy]) => (
                  <div key={platform} className="mb-2 border-t border-slate-100 pt-2" data-testid="concept-copy" data-platform={platform}>
                    <p className="text-xs font-semibold uppercase text-slate-600">{platform}</p>
                    {COPY_FIELDS.map((f) => <CopyLine key={f} platform={platform} field={f} text={copy?.[f]} />)}
                    {copy?.call_to_action ? <p className="text-sm"><span className="font-medium text-slate-700">Call to action: </span>{copy.call_to_action}</p> : null}
                  </div>
                ))}
              </article>
            ))}
          </div>
        </Card>
      ) : null}
    </>
  );
}
