'use client';

/**
 * Marketing mix: a CSV dataset up (`POST /api/analytics/mmm`, an `analytics.mmm` job followed
 * live), then the fitted model from the job's result; earlier fits are listed from
 * `GET /api/jobs?kind=analytics.mmm&state=succeeded`.
 */

import { useEffect, useState, type FormEvent } from 'react';
import { get, post, query } from '@/lib/api';
import { csvProblem, guessResponse, summarizeCsv, type CsvSummary } from '@/lib/csv';
import { NO_ERROR, formatBytes, placeError, type PlacedError } from '@/lib/forms';
import { MAX_MMM_CSV_BYTES, readText } from '@/lib/uploads';
import { useApi } from '@/lib/hooks';
import { jobIdOf } from '@/lib/jobs';
import type { JobPage, JobView } from '@/lib/types';
import JobProgress from '../JobProgress';
import MmmResults, { type MmmFit } from '../mmm/MmmResults';
import { Button, Card, ErrorBanner, Loading, PageHeader, formatTime, inputClass } from '../ui';

const ADSTOCKS: [string, string][] = [
  ['geometric', 'fades steadily (geometric)'],
  ['weibull_cdf', 'fades after a while (Weibull CDF)'],
  ['weibull_pdf', 'peaks later, then fades (Weibull PDF)'],
];
const MMM_FIELDS = ['data', 'columns', 'config', 'body', 'holidays'];
const MMM_ALIASES: Record<string, string> = { 'data.csv': 'data', body: 'data', generations: 'config' };

/** Why Fit cannot run yet, in words, or null. */
export function fitBlocker(csv: string, problem: string | null, channels: string[]): string | null {
  if (problem) return 'Fix the file first (see above).';
  if (!csv) return 'Choose a CSV file first.';
  if (channels.length === 0) return 'Tick at least one spend column as a channel.';
  return null;
}

export default function Mmm() {
  const [csv, setCsv] = useState('');
  const [summary, setSummary] = useState<CsvSummary | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [dateColumn, setDateColumn] = useState('date');
  const [response, setResponse] = useState('');
  const [channels, setChannels] = useState<string[]>([]);
  const [adstock, setAdstock] = useState('geometric');
  const [generations, setGenerations] = useState('60');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<PlacedError>({ fields: {}, general: null });
  const [jobId, setJobId] = useState<string | null>(null);
  const [fit, setFit] = useState<{ jobId: string; fit: MmmFit } | null>(null);
  const [loadingFit, setLoadingFit] = useState(false);
  const previous = useApi<JobPage>(`/api/jobs${query({ kind: 'analytics.mmm', state: 'succeeded', limit: 20 })}`);

  const readCsv = (text: string, bytes: number) => {
    setError(NO_ERROR);
    const why = csvProblem(text, bytes, MAX_MMM_CSV_BYTES, formatBytes);
    setProblem(why);
    setCsv(why ? '' : text);
    if (why) {
      setSummary(null);
      setChannels([]);
      return;
    }
    const s = summarizeCsv(text);
    setSummary(s);
    const date = s.dateColumn ?? s.header[0] ?? 'date';
    const resp = guessResponse(s.numeric.filter((c) => c !== date)) ?? '';
    setDateColumn(date);
    setResponse(resp);
    setChannels(s.numeric.filter((c) => c !== date && c !== resp));
  };

  const openFit = async (id: string) => {
    setLoadingFit(true);
    setError({ fields: {}, general: null });
    try {
      const job = await get<JobView>(`/api/jobs/${encodeURIComponent(id)}`);
      const result = job.result as { fit?: MmmFit } | null;
      if (!result?.fit) throw new Error(`job ${id} holds no fitted model`);
      setFit({ jobId: id, fit: result.fit });
      const url = new URL(window.location.href);
      url.searchParams.set('job', id);
      window.history.replaceState(null, '', url);
    } catch (e) {
      setError({ fields: {}, general: e });
    } finally {
      setLoadingFit(false);
    }
  };

  useEffect(() => {
    const id = new URLSearchParams(window.location.search).get('job');
    if (id) void openFit(id);
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError({ fields: {}, general: null });
    try {
      const config: Record<string, unknown> = { adstock };
      if (generations) config.generations = Number(generations);
      const answer = await post<unknown>('/api/analytics/mmm', {
        data: { csv },
        columns: { date: dateColumn, response, channels },
        config,
      });
      setJobId(jobIdOf(answer));
    } catch (err) {
      // A message about a column (`tv: spend is zero throughout`) shows at the column choices.
      const columnAliases = Object.fromEntries([dateColumn, response, ...channels].map((c) => [c, 'columns']));
      setError(placeError(err, MMM_FIELDS, { ...columnAliases, ...MMM_ALIASES }, { bodyField: 'data', sentBytes: new Blob([csv]).size }));
    } finally {
      setBusy(false);
    }
  };

  const fe = error.fields;
  const dataError = problem ?? fe.data ?? null;
  const blocker = fitBlocker(csv, problem, channels);
  return (
    <>
      <PageHeader title="Marketing mix" />
      <ErrorBanner error={error.general} />
      <Card title="Fit a model">
        <form onSubmit={submit} noValidate className="flex flex-col gap-3">
          <p className="text-sm text-slate-700">One row per day or week: a date column, the response (revenue or conversions) and one spend column per paid channel.</p>
          <label className="flex flex-col text-sm">
            <span className="font-medium">CSV file</span>
            <input
              type="file"
              accept=".csv,text/csv"
              className="text-sm"
              aria-invalid={dataError ? true : undefined}
              aria-describedby={`data-hint${dataError ? ' data-error' : ''}`}
              onChange={async (e) => {
                const file = e.target.files?.[0];
                if (!file) return;
                // Past the limit the file is not even read: its size says enough.
                readCsv(file.size > MAX_MMM_CSV_BYTES ? '' : await readText(file), file.size);
              }}
              data-testid="mmm-csv"
            />
          </label>
          <p id="data-hint" className="text-xs text-slate-600">
            Up to {formatBytes(MAX_MMM_CSV_BYTES)} (the server&apos;s default limit on one fit) and 1,100 rows; dates as YYYY-MM-DD.
          </p>
          {dataError ? <p id="data-error" role="alert" className="text-sm text-red-800" data-testid="mmm-data-error">{dataError}</p> : null}
          {summary ? (
            <>
              <p className="text-sm">{summary.rows} rows, columns: {summary.header.join(', ')}</p>
              <div className="grid gap-3 md:grid-cols-4">
                <label className="flex flex-col text-sm">
                  <span className="font-medium">Date column</span>
                  <select className={inputClass} value={dateColumn} onChange={(e) => setDateColumn(e.target.value)}>
                    {summary.header.map((h) => <option key={h}>{h}</option>)}
                  </select>
                </label>
                <label className="flex flex-col text-sm">
                  <span className="font-medium">Response column</span>
                  <select className={inputClass} value={response} onChange={(e) => setResponse(e.target.value)}>
                    {summary.numeric.map((h) => <option key={h}>{h}</option>)}
                  </select>
                </label>
                <label className="flex flex-col text-sm">
                  <span className="font-medium">How long an ad keeps working</span>
                  <select className={inputClass} value={adstock} onChange={(e) => setAdstock(e.target.value)}>
                    {ADSTOCKS.map(([value, words]) => <option key={value} value={value}>{words}</option>)}
                  </select>
                </label>
                <label className="flex flex-col text-sm">
                  <span className="font-medium">Search effort (generations)</span>
                  <input className={inputClass} type="number" min={1} max={300} value={generations} onChange={(e) => setGenerations(e.target.value)} aria-invalid={fe.config ? true : undefined} aria-describedby={fe.config ? 'config-error' : undefined} />
                </label>
              </div>
              {fe.config ? <p id="config-error" role="alert" className="text-sm text-red-800">{fe.config}</p> : null}
              <fieldset>
                <legend className="text-sm font-medium">Channels (spend columns)</legend>
                <div className="mt-1 flex flex-wrap gap-4">
                  {summary.numeric.filter((c) => c !== dateColumn && c !== response).map((c) => (
                    <label key={c} className="flex items-center gap-2 text-sm">
                      <input type="checkbox" checked={channels.includes(c)} onChange={() => setChannels((l) => (l.includes(c) ? l.filter((x) => x !== c) : [...l, c]))} />
                      {c}
                    </label>
                  ))}
                </div>
                {fe.columns ? <p role="alert" className="text-sm text-red-800">{fe.columns}</p> : null}
              </fieldset>
            </>
          ) : null}
          <div className="flex flex-wrap items-center gap-2">
            <Button type="submit" busy={busy} disabled={blocker !== null} aria-describedby={blocker ? 'fit-blocker' : undefined}>Fit model</Button>
            {blocker ? <span id="fit-blocker" className="text-sm text-slate-700" data-testid="fit-blocker">{blocker}</span> : null}
          </div>
        </form>
        {jobId ? <JobProgress jobId={jobId} title="Fitting" onDone={(w) => { if (w.job?.state === 'succeeded') { void openFit(jobId); previous.reload(); } }} /> : null}
      </Card>
      <Card title="Earlier fits">
        {previous.loading && !previous.data ? <Loading /> : null}
        <ErrorBanner error={previous.error} onRetry={previous.reload} />
        {previous.data && previous.data.jobs.length === 0 ? <p className="text-sm text-slate-700">No fitted models yet.</p> : null}
        <ul className="flex flex-col gap-1">
          {previous.data?.jobs.map((j) => (
            <li key={j.id} className="flex items-center gap-2 text-sm">
              <Button variant="ghost" onClick={() => openFit(j.id)}>Open fit {j.id.slice(0, 8)}</Button>
              <span className="text-slate-600">{formatTime(j.finished_at)}</span>
            </li>
          ))}
        </ul>
      </Card>
      {loadingFit ? <Loading label="Loading the model…" /> : null}
      {fit ? <MmmResults key={fit.jobId} jobId={fit.jobId} fit={fit.fit} /> : null}
    </>
  );
}
