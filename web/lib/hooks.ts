'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, get } from './api';
import { watchJob, type JobWatch } from './jobs';

export interface Loaded<T> {
  data: T | null;
  error: ApiError | Error | null;
  loading: boolean;
  /** Loads again (keeps the old data on screen meanwhile). */
  reload: () => void;
}

/** GETs `path` (nothing while it is null) and reloads when it changes. */
export function useApi<T>(path: string | null): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [loading, setLoading] = useState<boolean>(path !== null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    if (path === null) {
      setLoading(false);
      return;
    }
    const controller = new AbortController();
    setLoading(true);
    get<T>(path, controller.signal)
      .then((d) => {
        setData(d);
        setError(null);
      })
      .catch((e: Error) => {
        if (e.name !== 'AbortError') setError(e);
      })
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false);
      });
    return () => controller.abort();
  }, [path, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** A query-string parameter of the current page (static export: no dynamic segments). */
export function useQueryParam(name: string): string | null | undefined {
  // undefined until mounted: the static HTML is the same for every query string.
  const [value, setValue] = useState<string | null | undefined>(undefined);
  useEffect(() => {
    const read = () => setValue(new URLSearchParams(window.location.search).get(name));
    read();
    window.addEventListener('popstate', read);
    return () => window.removeEventListener('popstate', read);
  }, [name]);
  return value;
}

/** Follows a job by id (null: nothing); `onDone` runs once when it finishes. */
export function useJob(jobId: string | null, onDone?: (w: JobWatch) => void): JobWatch | null {
  const [watch, setWatch] = useState<JobWatch | null>(null);
  const done = useRef(onDone);
  done.current = onDone;
  useEffect(() => {
    setWatch(null);
    if (!jobId) return;
    let finished = false;
    return watchJob(jobId, (w) => {
      setWatch(w);
      const state = w.job?.state;
      if (!finished && w.job && (state === 'succeeded' || state === 'failed' || state === 'cancelled') && w.job.finished_at) {
        finished = true;
        done.current?.(w);
      }
    });
  }, [jobId]);
  return watch;
}

/** Calls `fn` every `ms` while `active`. */
export function useInterval(fn: () => void, ms: number, active: boolean): void {
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => {
    if (!active) return;
    const id = setInterval(() => latest.current(), ms);
    return () => clearInterval(id);
  }, [ms, active]);
}
