'use client';

/**
 * The optimizer's proposals with their reasons (`GET /api/campaigns/{id}/actions`), a run on
 * the synced metrics (`POST /api/campaigns/{id}/optimize`), approval or rejection of each
 * (`POST /api/actions/{id}/approve|reject`), auto-apply (`PUT /api/campaigns/{id}/policy`),
 * and the ad sets' daily budgets, where an applied budget move shows.
 */

import { useState } from 'react';
import { post, request } from '@/lib/api';
import { useLiveEvents } from '@/lib/events';
import { useApi } from '@/lib/hooks';
import { labelOf } from '@/lib/creatives';
import { formatMoney } from '@/lib/money';
import type { Action, PlanView } from '@/lib/types';
import { Button, Card, ErrorBanner, StatusBadge, States, TableWrap, formatTime, shortId, td, tdLabel, tdNum, th } from '../ui';

function Params({ action, currency, labels }: { action: Action; currency: string; labels?: Map<string, string> }) {
  const p = action.params;
  const creative = (id: unknown) => labelOf(labels, id === undefined || id === null ? null : String(id));
  if (action.kind === 'shift_budget' && Array.isArray(p.budgets)) {
    return (
      <ul className="text-xs">
        {(p.budgets as { ad_set_id: string; platform: string; daily_budget_micros: number }[]).map((b) => (
          <li key={b.ad_set_id}>{b.platform} ad set {shortId(b.ad_set_id)} → {formatMoney(b.daily_budget_micros, currency)} a day</li>
        ))}
      </ul>
    );
  }
  if (action.kind === 'scale_winner') {
    return <p className="text-xs">keep {creative(p.creative_id)}; pause {Array.isArray(p.pause) ? p.pause.map(creative).join(', ') : '—'}</p>;
  }
  if (action.kind === 'pause_creative') return <p className="text-xs">pause {creative(p.creative_id)} on {String(p.platform)}</p>;
  return <pre className="text-xs">{JSON.stringify(p)}</pre>;
}

/** What `POST /api/campaigns/{id}/optimize` answers: the run, its actions, and why there are none. */
export interface OptimizeAnswer {
  actions?: Action[];
  /** Why the run proposed nothing ("leader C2 at 71% chance to be best; proposals start at 95%"). */
  no_proposal_reason?: string | null;
  /** The metric the optimizer judged on. */
  metric?: 'roas' | 'cpa' | 'ctr' | string | null;
  run?: { output?: { no_proposal_reason?: string; metric?: string } | null };
}

export const METRIC_WORDS: Record<string, string> = { roas: 'return on ad spend (ROAS)', cpa: 'cost per acquisition (CPA)', ctr: 'click-through rate (CTR)' };

/** The reason a run proposed nothing, and its metric, from the answer (top level, else the run's output). */
export function noProposal(answer: OptimizeAnswer | null | undefined): { reason: string; metric: string | null } | null {
  if (!answer) return null;
  const reason = answer.no_proposal_reason ?? answer.run?.output?.no_proposal_reason ?? null;
  if (!reason || (answer.actions && answer.actions.length > 0)) return null;
  return { reason, metric: answer.metric ?? answer.run?.output?.metric ?? null };
}

export default function OptimizerPanel({ campaignId, currency, labels }: { campaignId: string; currency: string; labels?: Map<string, string> }) {
  const id = encodeURIComponent(campaignId);
  const actions = useApi<{ actions: Action[] }>(`/api/campaigns/${id}/actions`);
  const plan = useApi<PlanView>(`/api/campaigns/${id}/plan`);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [autoApply, setAutoApply] = useState<boolean | null>(null);
  const [previous, setPrevious] = useState<Record<string, number>>({});
  const [lastRun, setLastRun] = useState<OptimizeAnswer | null>(null);
  useLiveEvents(['action.proposed', 'action.applied', 'action.failed'], (e) => {
    if (e.data.campaign_id === campaignId) {
      actions.reload();
      plan.reload();
    }
  });

  const run = async (label: string, fn: () => Promise<unknown>) => {
    setBusy(label);
    setError(null);
    try {
      await fn();
      actions.reload();
      plan.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  const approve = (a: Action) =>
    run(`approve-${a.id}`, async () => {
      // Keep the budgets from before, so the move shows beside the new ones.
      setPrevious(Object.fromEntries((plan.data?.ad_sets ?? []).map((s) => [s.id, s.daily_budget_micros])));
      await post(`/api/actions/${encodeURIComponent(a.id)}/approve`);
    });
  const list = [...(actions.data?.actions ?? [])].reverse();
  const proposed = list.filter((a) => a.status === 'proposed').length;
  const none = noProposal(lastRun);

  return (
    <Card
      title={`Optimizer${proposed ? ` · ${proposed} proposal${proposed === 1 ? '' : 's'} waiting` : ''}`}
      actions={
        <>
          <label className="flex items-center gap-2 text-sm">
            <input
              type="checkbox"
              checked={autoApply ?? false}
              onChange={(e) => {
                const v = e.target.checked;
                void run('policy', async () => {
                  await request(`/api/campaigns/${id}/policy`, { method: 'PUT', json: { auto_apply: v } });
                  setAutoApply(v);
                });
              }}
            />
            Apply proposals automatically
          </label>
          <Button onClick={() => run('optimize', async () => setLastRun(await post<OptimizeAnswer>(`/api/campaigns/${id}/optimize`, {})))} busy={busy === 'optimize'} data-testid="run-optimizer">
            Run optimizer
          </Button>
        </>
      }
    >
      <ErrorBanner error={error} />
      {none ? (
        <p className="mb-2 rounded bg-slate-100 p-2 text-sm" data-testid="no-proposal-reason">
          <span className="font-medium">No proposal from the last run: </span>
          {none.reason}
          {none.metric ? <span className="text-slate-700"> (judged on {METRIC_WORDS[none.metric] ?? none.metric})</span> : null}
        </p>
      ) : null}
      <States
        loading={actions.loading && !actions.data}
        error={actions.error}
        onRetry={actions.reload}
        empty={actions.data && list.length === 0 && !none ? <p className="text-sm text-slate-700">No proposals yet: run the optimizer to see what the synced metrics support.</p> : false}
      >
        <ol className="flex flex-col gap-2">
          {list.map((a) => (
            <li key={a.id} className="rounded border border-slate-200 p-2" data-testid="action" data-kind={a.kind} data-status={a.status}>
              <div className="flex flex-wrap items-center justify-between gap-2">
                <p className="text-sm">
                  <span className="font-mono font-medium">{a.kind}</span> <StatusBadge status={a.status} />{' '}
                  <span className="text-xs text-slate-600">{formatTime(a.created_at)}</span>
                </p>
                {a.status === 'proposed' ? (
                  <div className="flex gap-2">
                    <Button onClick={() => approve(a)} busy={busy === `approve-${a.id}`} data-testid="approve-action">Approve</Button>
                    <Button variant="secondary" onClick={() => run(`reject-${a.id}`, () => post(`/api/actions/${encodeURIComponent(a.id)}/reject`))} busy={busy === `reject-${a.id}`}>
                      Reject
                    </Button>
                  </div>
                ) : null}
              </div>
              <p className="text-sm text-slate-800" data-testid="proposal-reason">{a.reason}</p>
              <Params action={a} currency={currency} labels={labels} />
              {a.status === 'failed' && a.result ? <p className="text-xs text-red-800">{String((a.result as { error?: string }).error ?? '')}</p> : null}
            </li>
          ))}
        </ol>
      </States>
      {plan.data ? (
        <div className="mt-4">
          <h3 className="mb-1 text-sm font-semibold">Daily budget by ad set</h3>
          <TableWrap label="Ad set budgets">
            <table className="w-full min-w-[480px] border-collapse" data-testid="ad-set-budgets">
              <thead>
                <tr>
                  <th scope="col" className={th}>Ad set</th>
                  <th scope="col" className={th}>Platform</th>
                  <th scope="col" className={`${th} text-right`}>Daily budget</th>
                  <th scope="col" className={`${th} text-right`}>Before the last approval</th>
                </tr>
              </thead>
              <tbody>
                {plan.data.ad_sets.map((s) => {
                  const before = previous[s.id];
                  const moved = before !== undefined && before !== s.daily_budget_micros;
                  return (
                    <tr key={s.id}>
                      <td className={td}>{s.name}</td>
                      <td className={tdLabel}>{s.platform}</td>
                      <td className={`${tdNum} ${moved ? 'font-semibold' : ''}`} data-testid="ad-set-budget">{formatMoney(s.daily_budget_micros, currency)}</td>
                      <td className={tdNum}>{before === undefined ? '—' : formatMoney(before, currency)}{moved ? (s.daily_budget_micros > before ? ' ▲' : ' ▼') : ''}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </TableWrap>
        </div>
      ) : null}
    </Card>
  );
}
