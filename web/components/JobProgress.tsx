'use client';

/** A job's live progress (server-sent events), state, queue position, ETA and its last messages. */

import { useState } from 'react';
import { request } from '@/lib/api';
import { formatEta, isTerminal } from '@/lib/jobs';
import { useJob } from '@/lib/hooks';
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
        {job?.message || (job ? job.state : 'Starting…')}
        {job?.state === 'queued' && job.queue_position !== null ? ` · ${job.queue_position} ahead in the queue` : ''}
        {job?.state === 'running' && job.eta_seconds !== null ? ` · about ${formatEta(job.eta_seconds)} left` : ''}
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
