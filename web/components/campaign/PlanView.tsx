'use client';

/** The stored plan (`GET /api/campaigns/{id}/plan`): schedule, budget split, ad sets, KPIs, concepts. */

import { COPY_FIELDS } from '@/lib/copyLimits';
import { formatMoney } from '@/lib/money';
import { formatPercent } from '@/lib/metrics';
import type { Campaign, PlanView as PlanData } from '@/lib/types';
import CopyLine from '../CopyCounter';
import { Card, StatusBadge, TableWrap, td, tdNum, th } from '../ui';

export default function PlanView({ campaign, data }: { campaign: Campaign; data: PlanData }) {
  const plan = data.plan;
  const cur = plan.currency ?? campaign.currency;
  return (
    <>
      <Card title="Plan">
        <dl className="grid grid-cols-2 gap-3 text-sm md:grid-cols-4">
          <div><dt className="text-slate-600">Total budget</dt><dd className="font-medium">{formatMoney(plan.total_budget_micros, cur)}</dd></div>
          <div>
            <dt className="text-slate-600">Daily budget</dt>
            <dd className="font-medium">{formatMoney(plan.daily_budget_micros, cur)}</dd>
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
                const t = a.targeting as { description?: string; countries?: string[]; age_min?: number; age_max?: number };
                return (
                  <tr key={a.id}>
                    <td className={td}>{a.platform}</td>
                    <td className={td}>{a.name}</td>
                    <td className={`${td} text-xs`}>
                      {t.description ?? ''} {t.countries?.length ? `· ${t.countries.join(', ')}` : ''}
                      {t.age_min || t.age_max ? ` · ages ${t.age_min ?? 13}–${t.age_max ?? 65}` : ''}
                    </td>
                    <td className={tdNum} data-testid={`budget-${a.id}`}>{formatMoney(a.daily_budget_micros, cur)}</td>
                    <td className={tdNum}>{channel ? formatPercent(channel.share, 1) : '—'}</td>
                    <td className={td}><StatusBadge status={a.status} /></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      </Card>
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
              <article key={`${c.name}-${i}`} className="rounded border border-slate-200 p-3">
                <h3 className="font-medium">{c.name}</h3>
                <p className="mb-2 text-sm text-slate-700">{c.angle}</p>
                {Object.entries(c.copy ?? {}).map(([platform, copy]) => (
                  <div key={platform} className="mb-2 border-t border-slate-100 pt-2">
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
