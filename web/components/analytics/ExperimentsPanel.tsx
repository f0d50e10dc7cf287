'use client';

/**
 * Experiments, as GrowthBook shows them: per variant the rate, lift with its interval, the
 * probability to beat control, expected loss, Holm-adjusted p, the sequential test's state,
 * and a warning when the traffic split is off (SRM). From `GET /api/analytics/campaigns/{id}`;
 * a new experiment is recorded from the creatives' synced delivery on one platform
 * (`POST /api/campaigns/{id}/experiment {platform, metric}`; where a server lacks that route,
 * the same counts are sent to `POST /api/analytics/experiments`).
 */

import { useState } from 'react';
import { ApiError, post } from '@/lib/api';
import { nameInWords } from '@/lib/creatives';
import { experimentFromMetrics, sequentialState } from '@/lib/experiment';
import { formatPercent } from '@/lib/metrics';
import type { CampaignExperiments, MetricRow } from '@/lib/types';
import { Button, Card, ErrorBanner, Loading, TableWrap, inputClass, td, tdNum, th } from '../ui';

const VERDICT_CLASS: Record<string, string> = {
  winner: 'bg-green-100 text-green-900',
  loser: 'bg-red-100 text-red-900',
  inconclusive: 'bg-slate-200 text-slate-900',
  invalid: 'bg-amber-100 text-amber-900',
};

function pct(v: number | null | undefined) {
  return formatPercent(v, 2);
}

function signedPct(v: number | null | undefined) {
  if (v === null || v === undefined) return '—';
  return `${v > 0 ? '+' : ''}${(v * 100).toFixed(1)}%`;
}

function signedPts(v: number) {
  return `${v > 0 ? '+' : ''}${(v * 100).toFixed(2)}`;
}

function ExperimentTable({ e, finding, labels }: { e: CampaignExperiments['experiments'][number]; finding?: CampaignExperiments['findings'][number]; labels?: Map<string, string> }) {
  const s = e.statistics;
  const conf = Math.round(s.confidence * 100);
  return (
    <section className="mb-4" aria-label={e.name} data-testid="experiment">
      <div className="mb-1 flex flex-wrap items-center gap-2">
        <h3 className="font-medium">{e.name}</h3>
        {finding ? (
          <span className={`rounded px-2 py-0.5 text-xs font-medium ${VERDICT_CLASS[finding.verdict] ?? VERDICT_CLASS.inconclusive}`} data-testid="verdict">
            verdict: {finding.verdict}
          </span>
        ) : null}
      </div>
      {s.sample_ratio_mismatch.suspect ? (
        <p role="alert" className="mb-2 rounded border border-amber-400 bg-amber-50 p-2 text-sm text-amber-950" data-testid="srm-warning">
          Sample ratio mismatch: the arms got a traffic split unlikely under the one planned (χ² = {s.sample_ratio_mismatch.statistic.toFixed(1)}, p ={' '}
          {s.sample_ratio_mismatch.p_value.toExponential(1)}). Do not trust these results until the cause is found.
        </p>
      ) : null}
      <TableWrap label={`${e.name} variants`}>
        <table className="w-full min-w-[820px] border-collapse">
          <thead>
            <tr>
              <th scope="col" className={th}>Variant</th>
              <th scope="col" className={`${th} text-right`}>Rate ({conf}% interval)</th>
              <th scope="col" className={`${th} text-right`}>Lift</th>
              <th scope="col" className={`${th} text-right`}>Difference ({conf}% interval)</th>
              <th scope="col" className={`${th} text-right`}>Chance to beat control</th>
              <th scope="col" className={`${th} text-right`}>Expected loss</th>
              <th scope="col" className={`${th} text-right`}>p (Holm)</th>
              <th scope="col" className={th}>Sequential test</th>
            </tr>
          </thead>
          <tbody>
            <tr className="bg-slate-50">
              <th scope="row" className={`${td} text-left`}>{nameInWords(labels, s.control.name)} <span className="text-xs text-slate-600">control</span></th>
              <td className={tdNum}>{pct(s.control.rate)} <span className="text-xs text-slate-600">[{pct(s.control.rate_interval[0])}, {pct(s.control.rate_interval[1])}]</span></td>
              <td className={tdNum}>—</td>
              <td className={tdNum}>—</td>
              <td className={tdNum}>—</td>
              <td className={tdNum}>—</td>
              <td className={tdNum}>—</td>
              <td className={td} />
            </tr>
            {s.variants.map((v, i) => {
              const seq = e.sequential_p_values[i];
              const beat = v.bayes.probability_to_beat_control;
              return (
                <tr key={v.name}>
                  <th scope="row" className={`${td} text-left`}>{nameInWords(labels, v.name)}</th>
                  <td className={tdNum}>{pct(v.rate)} <span className="text-xs text-slate-600">[{pct(v.rate_interval[0])}, {pct(v.rate_interval[1])}]</span></td>
                  <td className={`${tdNum} ${v.lift !== null && v.lift > 0 ? 'text-green-800' : v.lift !== null && v.lift < 0 ? 'text-red-800' : ''}`}>{signedPct(v.lift)}</td>
                  <td className={tdNum}>[{signedPts(v.difference_interval[0])}, {signedPts(v.difference_interval[1])}] <span className="text-xs text-slate-600">pts</span></td>
                  <td className={tdNum}>
                    <span className={beat >= 0.95 ? 'font-semibold text-green-800' : beat <= 0.05 ? 'font-semibold text-red-800' : ''}>{formatPercent(beat, 1)}</span>
                  </td>
                  <td className={tdNum}>{v.bayes.expected_loss.toExponential(2)}</td>
                  <td className={tdNum}>{v.z_test.p_value_holm.toPrecision(3)}</td>
                  <td className={td}>
                    {sequentialState(seq)}
                    {seq !== null && seq !== undefined ? <span className="text-xs text-slate-600"> (always-valid p = {seq.toPrecision(3)})</span> : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </TableWrap>
    </section>
  );
}

export default function ExperimentsPanel({
  campaignId,
  platforms,
  data,
  error,
  loading,
  rows,
  onRecorded,
  labels,
}: {
  campaignId: string;
  platforms: string[];
  data: CampaignExperiments | null;
  error: unknown;
  loading: boolean;
  rows: MetricRow[];
  onRecorded: () => void;
  /** Creative labels by id (concept, platform, format). */
  labels?: Map<string, string>;
}) {
  const [busy, setBusy] = useState(false);
  // A rehearsal delivers on the sandbox whatever the plan's platforms: offer it always.
  const choices = [...new Set([...platforms, 'sandbox'])];
  const [platform, setPlatform] = useState(rows.some((r) => r.platform === 'sandbox') || platforms.includes('sandbox') ? 'sandbox' : choices[0]);
  const [metric, setMetric] = useState<'conversions_per_click' | 'clicks_per_impression'>('conversions_per_click');
  const [recordError, setRecordError] = useState<unknown>(null);
  const none = error instanceof ApiError && error.status === 404 && !error.isMissingRoute;
  const candidate = experimentFromMetrics(campaignId, rows, undefined, labels);
  const record = async () => {
    setBusy(true);
    setRecordError(null);
    try {
      try {
        await post(`/api/campaigns/${encodeURIComponent(campaignId)}/experiment`, { platform, metric });
      } catch (e) {
        if (!(e instanceof ApiError && e.isMissingRoute) || !candidate) throw e;
        await post('/api/analytics/experiments', candidate);
      }
      onRecorded();
    } catch (e) {
      setRecordError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card
      title="Experiments"
      actions={
        <>
          <label className="flex items-center gap-2 text-sm">
            <span>Platform</span>
            <select className={`${inputClass} w-auto`} value={platform} onChange={(e) => setPlatform(e.target.value)}>
              {choices.map((p) => <option key={p}>{p}</option>)}
            </select>
          </label>
          <label className="flex items-center gap-2 text-sm">
            <span>Compare</span>
            <select className={`${inputClass} w-auto`} value={metric} onChange={(e) => setMetric(e.target.value as typeof metric)}>
              <option value="conversions_per_click">conversions per click</option>
              <option value="clicks_per_impression">clicks per impression</option>
            </select>
          </label>
          <Button variant="secondary" onClick={record} busy={busy}>
            Record creatives as an experiment
          </Button>
        </>
      }
    >
      <ErrorBanner error={recordError} />
      {loading && !data ? <Loading /> : null}
      {none || (!data && !loading && !error) ? (
        <p className="text-sm text-slate-700">
          No experiments recorded for this campaign. Record the creatives’ delivery on a platform as one: the oldest creative is the control, the others its variants, and each day’s counts feed the sequential test.
        </p>
      ) : error && !none ? (
        <ErrorBanner error={error} />
      ) : null}
      {data ? (
        <>
          {data.experiments.map((e, i) => <ExperimentTable key={e.id} e={e} finding={data.findings[i]} labels={labels} />)}
          {data.narrative.sentences.length ? (
            <div className="rounded bg-slate-100 p-2 text-sm">
              {data.narrative.sentences.map((s, i) => <p key={i}>{s}</p>)}
              {data.narrative.commentary ? <p className="mt-1 italic">{data.narrative.commentary}</p> : null}
              <p className="mt-1 text-xs text-slate-600">Numbers computed by adforge; {data.narrative.source}.</p>
            </div>
          ) : null}
        </>
      ) : null}
    </Card>
  );
}
