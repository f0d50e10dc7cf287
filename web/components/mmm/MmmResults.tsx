'use client';

/**
 * A fitted marketing-mix model: fit quality, channel contributions, share of spend against
 * share of effect, response curves, and the budget allocator with per-channel bounds
 * (`POST /api/analytics/mmm/{job_id}/allocate`).
 */

import { useMemo, useState, type FormEvent } from 'react';
import { post } from '@/lib/api';
import { placeError, type PlacedError } from '@/lib/forms';
import { formatPercent } from '@/lib/metrics';
import { BarChart, LineChart } from '../charts';
import { Button, Card, ErrorBanner, TableWrap, inputClass, td, tdNum, th } from '../ui';

export interface MmmChannel {
  name: string;
  spend: number;
  contribution: number;
  spend_share: number;
  effect_share: number;
  roas: number;
  marginal_roas: number;
  mean_spend: number;
  response_curve: [number, number][];
}

export interface MmmFrontPoint {
  nrmse: number;
  decomp_rssd: number;
  lambda: number;
  roas: number[];
  chosen: boolean;
}

export interface MmmFit {
  model: { adstock: string; nrmse: number; decomp_rssd: number; r_squared: number; channels: MmmChannel[]; baseline: { name: string; contribution: number }[]; intercept: number };
  /** The non-dominated models ("Pareto front"): the best budget options. */
  front?: MmmFrontPoint[];
  evaluated: number;
  choice: string;
}

/** The marketer's words for the statistics of a fit, with the statistical name one click away. */
export const MMM_WORDS = {
  nrmse: { label: 'How well the model fits past sales', stat: 'NRMSE (normalised root-mean-square error; lower is better)' },
  decomp_rssd: { label: 'How realistic the channel split is', stat: 'DECOMP.RSSD (distance between shares of spend and shares of effect; lower is better)' },
  r_squared: { label: 'Share of the ups and downs in sales the model explains', stat: 'R² (coefficient of determination)' },
  adstock: { label: 'How long an ad keeps working', stat: 'Adstock (carry-over shape)' },
  front: { label: 'Best budget options', stat: 'Pareto front of (NRMSE, DECOMP.RSSD): no other model beats one on both' },
  roas: { label: 'Sales per 1 spent', stat: 'ROAS' },
  marginal_roas: { label: 'Sales from the next 1 spent', stat: 'Marginal ROAS' },
} as const;

/** Fit to past sales in words (NRMSE: lower is closer). */
export function fitWords(nrmse: number): string {
  if (!Number.isFinite(nrmse)) return 'unknown';
  if (nrmse <= 0.1) return 'close';
  if (nrmse <= 0.2) return 'fair';
  return 'loose: read the channel numbers with care';
}

/** The channel split's realism in words (DECOMP.RSSD: lower is closer to the spend split). */
export function splitWords(rssd: number): string {
  if (!Number.isFinite(rssd)) return 'unknown';
  if (rssd <= 0.1) return 'realistic';
  if (rssd <= 0.25) return 'somewhat uneven';
  return 'far from how the money was spent';
}

interface AllocatedChannel {
  channel: string;
  spend: number;
  share: number;
  response: number;
  roas: number;
  marginal_roas: number;
}
interface Allocation {
  channels: AllocatedChannel[];
  total_spend: number;
  total_response: number;
}
interface AllocateResponse {
  allocation: Allocation;
  historical: Allocation;
  uplift: number;
}

const num = (v: number, digits = 2) => v.toLocaleString('en-US', { maximumFractionDigits: digits });

/** Response curves on one x axis: the union of every channel's spend levels, gaps spanned. */
export function mergeCurves(channels: MmmChannel[]): { x: number[]; series: { label: string; values: (number | null)[] }[] } {
  const x = [...new Set(channels.flatMap((c) => c.response_curve.map(([s]) => s)))].sort((a, b) => a - b);
  const index = new Map(x.map((v, i) => [v, i]));
  const series = channels.map((c) => {
    const values: (number | null)[] = x.map(() => null);
    for (const [s, r] of c.response_curve) values[index.get(s)!] = r;
    return { label: c.name, values };
  });
  return { x, series };
}

function Allocator({ jobId, channels }: { jobId: string; channels: MmmChannel[] }) {
  const [total, setTotal] = useState(String(Math.round(channels.reduce((n, c) => n + c.mean_spend, 0))));
  const [bounds, setBounds] = useState<Record<string, [string, string]>>(
    Object.fromEntries(channels.map((c) => [c.name, [String(Math.round(c.mean_spend * 0.5)), String(Math.round(c.mean_spend * 2))]])),
  );
  const [result, setResult] = useState<AllocateResponse | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<PlacedError>({ fields: {}, general: null });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError({ fields: {}, general: null });
    try {
      const body = {
        total_budget: Number(total),
        bounds: Object.fromEntries(Object.entries(bounds).map(([k, [lo, hi]]) => [k, [Number(lo), Number(hi)]])),
      };
      setResult(await post<AllocateResponse>(`/api/analytics/mmm/${encodeURIComponent(jobId)}/allocate`, body));
    } catch (err) {
      setError(placeError(err, ['total_budget', 'bounds']));
    } finally {
      setBusy(false);
    }
  };
  const historical = new Map(result?.historical.channels.map((c) => [c.channel, c]) ?? []);
  return (
    <Card title="Suggested budget split">
      <ErrorBanner error={error.general} />
      <form onSubmit={submit} noValidate>
        <label className="flex max-w-xs flex-col text-sm">
          <span className="font-medium">Budget per period</span>
          <input className={inputClass} inputMode="decimal" value={total} onChange={(e) => setTotal(e.target.value)} aria-invalid={error.fields.total_budget ? true : undefined} aria-describedby={error.fields.total_budget ? 'total-error' : undefined} />
        </label>
        {error.fields.total_budget ? <p id="total-error" role="alert" className="text-sm text-red-800">{error.fields.total_budget}</p> : null}
        <fieldset className="mt-3">
          <legend className="text-sm font-medium">Spend bounds per channel (low, high)</legend>
          <div className="mt-1 grid gap-2 sm:grid-cols-2 lg:grid-cols-3">
            {channels.map((c) => (
              <div key={c.name} className="flex items-center gap-2 text-sm">
                <span className="w-28 truncate" title={c.name}>{c.name}</span>
                <input aria-label={`${c.name} lowest spend`} className={`${inputClass} w-24`} inputMode="decimal" value={bounds[c.name]?.[0] ?? ''} onChange={(e) => setBounds((b) => ({ ...b, [c.name]: [e.target.value, b[c.name][1]] }))} />
                <input aria-label={`${c.name} highest spend`} className={`${inputClass} w-24`} inputMode="decimal" value={bounds[c.name]?.[1] ?? ''} onChange={(e) => setBounds((b) => ({ ...b, [c.name]: [b[c.name][0], e.target.value] }))} />
              </div>
            ))}
          </div>
          {error.fields.bounds ? <p role="alert" className="text-sm text-red-800">{error.fields.bounds}</p> : null}
        </fieldset>
        <Button type="submit" className="mt-3" busy={busy}>Allocate</Button>
      </form>
      {result ? (
        <div className="mt-3">
          <p className="text-sm" data-testid="allocation-uplift">
            Expected sales {num(result.allocation.total_response)} against {num(result.historical.total_response)} with the split you used before:{' '}
            <span className="font-semibold">{result.uplift >= 0 ? '+' : ''}{formatPercent(result.uplift, 1)}</span>.
          </p>
          <TableWrap label="Allocation">
            <table className="mt-2 w-full min-w-[560px] border-collapse">
              <thead>
                <tr>
                  {['Channel', 'Spend', 'Share', 'Spent before', 'Expected sales', MMM_WORDS.roas.label, MMM_WORDS.marginal_roas.label].map((h, i) => (
                    <th key={h} scope="col" className={`${th} ${i ? 'text-right' : ''}`}>{h}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {result.allocation.channels.map((c) => (
                  <tr key={c.channel}>
                    <th scope="row" className={`${td} text-left`}>{c.channel}</th>
                    <td className={tdNum}>{num(c.spend)}</td>
                    <td className={tdNum}>{formatPercent(c.share, 1)}</td>
                    <td className={tdNum}>{historical.get(c.channel) ? num(historical.get(c.channel)!.spend) : '—'}</td>
                    <td className={tdNum}>{num(c.response)}</td>
                    <td className={tdNum}>{num(c.roas)}</td>
                    <td className={tdNum}>{num(c.marginal_roas)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        </div>
      ) : null}
    </Card>
  );
}

/** The non-dominated models, in words: each a trade-off between fit and a realistic split. */
function BestOptions({ front, names }: { front: MmmFrontPoint[]; names: string[] }) {
  return (
    <Card title={MMM_WORDS.front.label}>
      <p className="mb-2 text-sm text-slate-700">
        Models that no other model beats on both fit and realism; each reads the channels a little differently. The one marked is shown above.
      </p>
      <TableWrap label={MMM_WORDS.front.label}>
        <table className="w-full min-w-[560px] border-collapse" data-testid="mmm-front">
          <thead>
            <tr>
              <th scope="col" className={th}>Option</th>
              <th scope="col" className={th}>Fit to past sales</th>
              <th scope="col" className={th}>Channel split</th>
              {names.map((n) => <th key={n} scope="col" className={`${th} text-right`}>{n}: sales per 1</th>)}
            </tr>
          </thead>
          <tbody>
            {front.map((p, i) => (
              <tr key={i} className={p.chosen ? 'bg-blue-50 font-medium' : undefined}>
                <th scope="row" className={`${td} whitespace-nowrap text-left`}>{i + 1}{p.chosen ? ' (shown)' : ''}</th>
                <td className={td} title={`NRMSE ${p.nrmse.toFixed(3)}`}>{fitWords(p.nrmse)}</td>
                <td className={td} title={`DECOMP.RSSD ${p.decomp_rssd.toFixed(3)}`}>{splitWords(p.decomp_rssd)}</td>
                {names.map((n, j) => <td key={n} className={tdNum}>{p.roas[j] === undefined ? '—' : num(p.roas[j])}</td>)}
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      <details className="mt-2 text-xs text-slate-700">
        <summary className="cursor-pointer text-blue-800">Statistical name</summary>
        <p className="mt-1">{MMM_WORDS.front.stat}. NRMSE and DECOMP.RSSD of each option are in the cells&apos; tooltips.</p>
      </details>
    </Card>
  );
}

export default function MmmResults({ jobId, fit }: { jobId: string; fit: MmmFit }) {
  const m = fit.model;
  const curves = useMemo(() => mergeCurves(m.channels), [m.channels]);
  const names = m.channels.map((c) => c.name);
  return (
    <>
      <Card title="Model">
        <dl className="grid grid-cols-1 gap-3 text-sm sm:grid-cols-3" data-testid="mmm-quality">
          <div>
            <dt className="text-slate-600">{MMM_WORDS.nrmse.label}</dt>
            <dd className="font-medium">{fitWords(m.nrmse)}</dd>
          </div>
          <div>
            <dt className="text-slate-600">{MMM_WORDS.decomp_rssd.label}</dt>
            <dd className="font-medium">{splitWords(m.decomp_rssd)}</dd>
          </div>
          <div>
            <dt className="text-slate-600">{MMM_WORDS.r_squared.label}</dt>
            <dd className="font-medium">{formatPercent(m.r_squared, 0)}</dd>
          </div>
        </dl>
        <details className="mt-2 text-sm" data-testid="mmm-statistics">
          <summary className="cursor-pointer text-blue-800">Statistical details</summary>
          <dl className="mt-2 grid grid-cols-1 gap-2 sm:grid-cols-2">
            <div><dt className="text-slate-600">{MMM_WORDS.nrmse.stat}</dt><dd className="font-medium tabular-nums">{m.nrmse.toFixed(3)}</dd></div>
            <div><dt className="text-slate-600">{MMM_WORDS.decomp_rssd.stat}</dt><dd className="font-medium tabular-nums">{m.decomp_rssd.toFixed(3)}</dd></div>
            <div><dt className="text-slate-600">{MMM_WORDS.r_squared.stat}</dt><dd className="font-medium tabular-nums">{m.r_squared.toFixed(3)}</dd></div>
            <div><dt className="text-slate-600">{MMM_WORDS.adstock.stat}</dt><dd className="font-medium">{m.adstock}</dd></div>
            <div><dt className="text-slate-600">Models fitted in the search</dt><dd className="font-medium tabular-nums">{num(fit.evaluated, 0)}</dd></div>
            <div><dt className="text-slate-600">How this model was picked</dt><dd>{fit.choice}</dd></div>
          </dl>
        </details>
        <TableWrap label="Channels">
          <table className="mt-3 w-full min-w-[640px] border-collapse" data-testid="mmm-channels">
            <thead>
              <tr>
                {['Channel', 'Spend', 'Sales it brought', 'Share of spend', 'Share of effect', MMM_WORDS.roas.label, MMM_WORDS.marginal_roas.label].map((h, i) => (
                  <th key={h} scope="col" className={`${th} ${i ? 'text-right' : ''}`} title={h === MMM_WORDS.roas.label ? 'ROAS' : h === MMM_WORDS.marginal_roas.label ? 'Marginal ROAS' : undefined}>{h}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {m.channels.map((c) => (
                <tr key={c.name}>
                  <th scope="row" className={`${td} text-left`}>{c.name}</th>
                  <td className={tdNum}>{num(c.spend)}</td>
                  <td className={tdNum}>{num(c.contribution)}</td>
                  <td className={tdNum}>{formatPercent(c.spend_share, 1)}</td>
                  <td className={tdNum}>{formatPercent(c.effect_share, 1)}</td>
                  <td className={tdNum}>{num(c.roas)}</td>
                  <td className={tdNum}>{num(c.marginal_roas)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      </Card>
      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="Channel contributions">
          <BarChart title="Contribution to the response" categories={names} series={[{ label: 'Contribution', values: m.channels.map((c) => c.contribution) }]} />
        </Card>
        <Card title="Share of spend against share of effect">
          <BarChart
            title="Share of spend and share of effect"
            categories={names}
            series={[
              { label: 'Share of spend', values: m.channels.map((c) => c.spend_share) },
              { label: 'Share of effect', values: m.channels.map((c) => c.effect_share) },
            ]}
            format={(v) => formatPercent(v, 1)}
          />
        </Card>
      </div>
      <Card title="Response curves">
        <LineChart title="Response per period against spend per period (steady state)" x={curves.x} series={curves.series} xLabel="Spend per period" yLabel="Response" />
      </Card>
      {fit.front && fit.front.length > 0 ? <BestOptions front={fit.front} names={names} /> : null}
      <Allocator jobId={jobId} channels={m.channels} />
    </>
  );
}
