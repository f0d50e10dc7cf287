/**
 * Following a job: its current row from `GET /api/jobs/{id}`, then its progress over
 * `GET /api/jobs/{id}/events` (server-sent `progress` and `state` events with increasing ids;
 * the browser's EventSource resends `Last-Event-ID` when it reconnects). The stream ends when
 * the job finishes; the final row (with its result) is read once more then. Where the stream
 * cannot be opened the job is polled instead.
 */

import { get } from './api';
import type { JobEvent, JobState, JobView } from './types';

export const TERMINAL: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export function isTerminal(state: JobState | string): boolean {
  return (TERMINAL as readonly string[]).includes(state);
}

/** The id of a job a route answered: a `JobView` (`id`) or `{job_id}`. */
export function jobIdOf(answer: unknown): string | null {
  if (!answer || typeof answer !== 'object') return null;
  const a = answer as { id?: unknown; job_id?: unknown; kind?: unknown };
  if (typeof a.job_id === 'string') return a.job_id;
  if (typeof a.id === 'string' && typeof a.kind === 'string') return a.id;
  return null;
}

export interface JobWatch {
  job: JobView | null;
  /** The last event's message ("search generation 3 of 120"). */
  events: JobEvent[];
  error: string | null;
}

const POLL_MS = 2000;
const MAX_EVENTS_KEPT = 50;

/** Follows a job until it finishes or `stop()` is called; `onChange` gets every update. */
export function watchJob(jobId: string, onChange: (w: JobWatch) => void): () => void {
  let stopped = false;
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const watch: JobWatch = { job: null, events: [], error: null };
  const emit = () => {
    if (!stopped) onChange({ ...watch, events: [...watch.events] });
  };

  const stop = () => {
    stopped = true;
    source?.close();
    if (timer) clearTimeout(timer);
  };

  const refresh = async (): Promise<JobView | null> => {
    try {
      const job = await get<JobView>(`/api/jobs/${encodeURIComponent(jobId)}`);
      watch.job = job;
      watch.error = null;
      emit();
      return job;
    } catch (e) {
      watch.error = (e as Error).message;
      emit();
      return null;
    }
  };

  const poll = async () => {
    if (stopped) return;
    const job = await refresh();
    if (job && isTerminal(job.state)) return;
    timer = setTimeout(poll, POLL_MS);
  };

  const follow = () => {
    if (typeof EventSource === 'undefined') {
      void poll();
      return;
    }
    source = new EventSource(`/api/jobs/${encodeURIComponent(jobId)}/events`, { withCredentials: true });
    const onEvent = (message: MessageEvent<string>) => {
      let event: JobEvent;
      try {
        event = JSON.parse(message.data) as JobEvent;
      } catch {
        return;
      }
      watch.events = [...watch.events, event].slice(-MAX_EVENTS_KEPT);
      if (watch.job) {
        watch.job = { ...watch.job, state: event.state, progress: event.progress, message: event.message };
      }
      emit();
      if (isTerminal(event.state)) {
        // The server ends the stream now; read the final row (its result) and stop listening.
        source?.close();
        void refresh();
      }
    };
    source.addEventListener('progress', onEvent as EventListener);
    source.addEventListener('state', onEvent as EventListener);
    source.onerror = () => {
      // CONNECTING: the browser retries by itself with Last-Event-ID. CLOSED: it gave up
      // (an error status); poll instead.
      if (source?.readyState === EventSource.CLOSED && !stopped) {
        source = null;
        void poll();
      }
    };
  };

  void (async () => {
    const job = await refresh();
    if (stopped || (job && isTerminal(job.state))) return;
    follow();
  })();

  return stop;
}

/** "3 min 20 s" for an ETA in seconds. */
export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** One observed progress value of a running job and when it was seen (ms, the page's clock). */
export interface ProgressSample {
  at: number;
  progress: number;
}

/** Keeps the first sample and each later one whose progress moved forward. */
export function addSample(samples: readonly ProgressSample[], progress: number, at: number): ProgressSample[] {
  const last = samples[samples.length - 1];
  if (last && progress <= last.progress) return samples as ProgressSample[];
  return [...samples, { at, progress }];
}

/** Updates after the first that moved the progress forward. */
export function movedUpdates(samples: readonly ProgressSample[]): number {
  return Math.max(0, samples.length - 1);
}

/**
 * Seconds left at the rate measured since the first sample, or null ("estimating…") before
 * two updates have moved the progress: one early sample says nothing about the rate. The rate
 * runs to `now`, so a job that stalls sees its estimate grow instead of counting to zero.
 */
export function measuredEta(samples: readonly ProgressSample[], now: number): number | null {
  if (movedUpdates(samples) < 2) return null;
  const first = samples[0];
  const last = samples[samples.length - 1];
  const elapsed = Math.max(now, last.at) - first.at;
  const done = last.progress - first.progress;
  if (elapsed <= 0 || done <= 0) return null;
  const left = Math.max(0, 1 - last.progress);
  return (left * elapsed) / done / 1000;
}
