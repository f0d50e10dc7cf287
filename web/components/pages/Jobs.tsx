'use client';

/**
 * Jobs: `GET /api/jobs` (state and kind filters, cursor paging) with each job's state,
 * progress, queue position (from `GET /api/jobs/{id}` for queued jobs), ETA and a cancel
 * button (`DELETE /api/jobs/{id}`); refreshed while any job is unfinished. A JOBS.jsonl batch
 * goes up whole to `POST /api/jobs/batch`.
 */

import { useEffect, useState } from 'react';
import { get, query, request } from '@/lib/api';
import { useApi, useInterval } from '@/lib/hooks';
import { formatEta, isTerminal } from '@/lib/jobs';
import { JOB_STATES, type JobPage, type JobView } from '@/lib/types';
import { Button, Card, Empty, ErrorBanner, PageHeader, ProgressBar, StatusBadge, States, TableWrap, formatTime, inputClass, shortId, td, tdLabel, tdNum, th } from '../ui';

const REFRESH_MS = 3000;
const QUEUE_LOOKUPS = 10;

function BatchUpload({ onDone }: { onDone: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<string | null>(null);
  const upload = async () => {
    if (!file) return;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const r = await request<{ jobs: JobView[]; replayed: number }>('/api/jobs/batch', {
        method: 'POST',
        body: await file.text(),
        contentType: 'application/x-ndjson',
      });
      setResult(`${r.data.jobs.length} jobs accepted${r.data.replayed ? `, ${r.data.replayed} of them replayed from earlier submissions` : ''}.`);
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Submit a batch">
      <p className="mb-2 text-sm text-slate-700">A JOBS.jsonl file: one job per line, <code>{'{"kind", "payload", "idempotency_key"?, "priority"?}'}</code>. One bad line refuses the whole batch, naming the line.</p>
      <div className="flex flex-wrap items-center gap-2">
        <label className="text-sm">
          <span className="sr-only">JOBS.jsonl file</span>
          <input type="file" accept=".jsonl,.ndjson,application/x-ndjson,text/plain" className="text-sm" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </label>
        <Button onClick={upload} busy={busy} disabled={!file}>Upload batch</Button>
      </div>
      <p className="mt-2 text-sm" aria-live="polite">{result}</p>
      <ErrorBanner error={error} />
    </Card>
  );
}

export default function Jobs() {
  const [state, setState] = useState('');
  const [kind, setKind] = useState('');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [positions, setPositions] = useState<Record<string, number | null>>({});
  const [cancelError, setCancelError] = useState<unknown>(null);
  const page = useApi<JobPage>(`/api/jobs${query({ state, kind, limit: 50, cursor: cursors[cursors.length - 1] })}`);
  const jobs = page.data?.jobs ?? [];
  const unfinished = jobs.some((j) => !isTerminal(j.state));
  useInterval(page.reload, REFRESH_MS, unfinished);

  useEffect(() => {
    const queued = jobs.filter((j) => j.state === 'queued').slice(0, QUEUE_LOOKUPS);
    for (const j of queued) {
      get<JobView>(`/api/jobs/${encodeURIComponent(j.id)}`)
        .then((full) => setPositions((p) => ({ ...p, [j.id]: full.queue_position })))
        .catch(() => undefined);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [page.data]);

  const cancel = async (id: string) => {
    setCancelError(null);
    try {
      await request(`/api/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' });
      page.reload();
    } catch (e) {
      setCancelError(e);
    }
  };

  return (
    <>
      <PageHeader title="Jobs" />
      <BatchUpload onDone={page.reload} />
      <form className="mb-3 flex flex-wrap items-end gap-3" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label className="flex flex-col text-sm">
          <span className="font-medium">State</span>
          <select className={inputClass} value={state} onChange={(e) => { setState(e.target.value); setCursors([null]); }}>
            <option value="">All</option>
            {JOB_STATES.map((s) => <option key={s}>{s}</option>)}
          </select>
        </label>
        <label className="flex flex-col text-sm">
          <span className="font-medium">Kind</span>
          <input className={inputClass} placeholder="e.g. creative.render" value={kind} onChange={(e) => { setKind(e.target.value.trim()); setCursors([null]); }} />
        </label>
      </form>
      <ErrorBanner error={cancelError} />
      <States
        loading={page.loading && !page.data}
        error={page.error}
        onRetry={page.reload}
        empty={page.data && jobs.length === 0 ? <Empty title="No jobs">Jobs appear here when you plan, generate, deploy, sync or fit.</Empty> : false}
      >
        <TableWrap label="Jobs">
          <table className="w-full min-w-[860px] border-collapse bg-white">
            <thead>
              <tr>
                <th scope="col" className={th}>Job</th>
                <th scope="col" className={th}>Kind</th>
                <th scope="col" className={th}>State</th>
                <th scope="col" className={`${th} w-48`}>Progress</th>
                <th scope="col" className={`${th} text-right`}>Queue</th>
                <th scope="col" className={`${th} text-right`}>ETA</th>
                <th scope="col" className={th}>Created</th>
                <th scope="col" className={th}><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((j) => (
                <tr key={j.id}>
                  <td className={`${td} font-mono text-xs`} title={j.id}>{shortId(j.id)}</td>
                  <td className={tdLabel}>{j.kind}</td>
                  <td className={td}>
                    <StatusBadge status={j.state} />
                    {j.error ? <p className="max-w-xs truncate text-xs text-red-800" title={j.error}>{j.error}</p> : j.message ? <p className="max-w-xs truncate text-xs text-slate-600" title={j.message}>{j.message}</p> : null}
                  </td>
                  <td className={td}><ProgressBar value={j.progress} label={`job ${shortId(j.id)} progress`} /></td>
                  <td className={tdNum}>{j.state === 'queued' ? (positions[j.id] ?? j.queue_position ?? '…') : '—'}</td>
                  <td className={tdNum}>{j.state === 'running' ? formatEta(j.eta_seconds) : '—'}</td>
                  <td className={`${tdLabel} text-xs`}>{formatTime(j.created_at)}</td>
                  <td className={td}>{!isTerminal(j.state) ? <Button variant="secondary" onClick={() => cancel(j.id)} aria-label={`Cancel job ${shortId(j.id)}`}>Cancel</Button> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
        <nav aria-label="Pages" className="mt-3 flex items-center gap-2">
          <Button variant="secondary" disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>Previous page</Button>
          <span className="text-sm text-slate-700">Page {cursors.length}{unfinished ? ' · refreshing' : ''}</span>
          <Button variant="secondary" disabled={!page.data?.next_cursor} onClick={() => page.data?.next_cursor && setCursors((c) => [...c, page.data!.next_cursor])}>Next page</Button>
        </nav>
      </States>
    </>
  );
}
