'use client';

/**
 * A job's live progress (server-sent events): the step the job reports ("step 2 of 6:
 * writing copy"), its state, queue position, and an ETA from the rate measured in this page
 * (two updates that moved the progress at least; "estimating…" before), and its last messages.
 */

import { useEffect, useState } from 'react';
import { request } from '@/lib/api';
import { addSample, formatEta, isTerminal, measuredEta, type ProgressSample } from '@/lib/jobs';
import { useInterval, useJob } from '@/lib/hooks';
import type { JobWatch } from '@/lib/jobs';
import { Button, ErrorBanner, ProgressBar, StatusBadge } from './ui';

export default function JobProgress({
  jobId,
  title,
  onDone,
}: {
  jobId: string;
  title: string;
  onDone?: (w: JobWatch) => void;
}) {
  const watch = useJob(jobId, onDone);
  const [cancelError, setCancelError] = useState<unknown>(null);
  const job = watch?.job;
  const [samples, setSamples] = useState<ProgressSample[]>([]);
  const [now, setNow] = useState(() => Date.now());
  const running = job?.state === 'running';
  useEffect(() => setSamples([]), [jobId]);
  const progress = job?.progress;
  useEffect(() => {
    if (running && progress !== undefined) setSamples((list) => addSample(list, progress, Date.now()));
  }, [running, progress]);
  useInterval(() => setNow(Date.now()), 1000, running);
  const eta = running ? measuredEta(samples, now) : null;
  const cancel = async () => {
    try {
      await request(`/api/jobs/${encodeURIComponent(jobId)}`, { method: 'DELETE' });
    } catch (e) {
      setCancelError(e);
    }
  };
  const last = watch?.events.slice(-5).reverse() ?? [];
  return (
    <section aria-label={title} className="my-3 rounded border border-blue-200 bg-blue-50 p-3" data-testid="job-progress">
      <div className="mb-2 flex flex-wrap items-center justify-between gap-2">
        <h3 className="font-medium text-slate-900">
          {title} <span className="text-xs text-slate-700">job {jobId.slice(0, 8)}</span>
        </h3>
        <div className="flex items-center gap-2">
          {job ? <StatusBadge status={job.state} /> : null}
          {job && !isTerminal(job.state) ? (
            <Button variant="secondary" onClick={cancel}>
              Cancel
            </Button>
          ) : null}
        </div>
      </div>
      <ProgressBar value={job?.progress ?? 0} label={`${title} progress`} />
      <p className="mt-1 text-sm text-slate-800" aria-live="polite">
        <span data-testid="job-step">{job?.message || (job ? job.state : 'Starting…')}</span>
        {job?.state === 'queued' && job.queue_position !== null ? ` · ${job.queue_position} ahead in the queue` : ''}
        {running ? <span data-testid="job-eta">{eta === null ? ' · estimating…' : ` · about ${formatEta(eta)} left`}</span> : null}
      </p>
      {job?.error ? <ErrorBanner error={job.error} /> : null}
      {watch?.error ? <ErrorBanner error={watch.error} /> : null}
      <ErrorBanner error={cancelError} />
      {last.length > 1 ? (
        <details className="mt-1 text-xs text-slate-700">
          <summary className="cursor-pointer">Recent steps</summary>
          <ol className="mt-1 list-inside list-decimal">
            {last.map((e, i) => (
              <li key={`${e.at}-${i}`}>
                {Math.round(e.progress * 100)}% — {e.message || e.state}
              </li>
            ))}
          </ol>
        </details>
      ) : null}
    </section>
  );
}
