// @vitest-environment jsdom
import { act, cleanup, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { addSample, measuredEta, movedUpdates, type ProgressSample } from '@/lib/jobs';
import type { JobWatch } from '@/lib/jobs';
import type { JobView } from '@/lib/types';

let current: JobWatch | null = null;
vi.mock('@/lib/hooks', async (original) => ({
  ...(await original<typeof import('@/lib/hooks')>()),
  useJob: () => current,
}));
const { default: JobProgress } = await import('@/components/JobProgress');

function job(progress: number, message: string, state: JobView['state'] = 'running'): JobWatch {
  return {
    job: {
      id: 'j1', kind: 'campaign.plan', state, payload: {}, progress, message, attempts: 1, max_attempts: 3, priority: 0, result: null, error: null,
      idempotency_key: null, created_at: '', updated_at: '', started_at: '', finished_at: null, queue_position: null,
      // The server's own guess from one early sample: never shown.
      eta_seconds: 1,
    },
    events: [],
    error: null,
  };
}

describe('ETA from a measured rate', () => {
  it('keeps the first sample and the ones that moved', () => {
    let s: ProgressSample[] = [];
    s = addSample(s, 0.05, 0);
    s = addSample(s, 0.05, 1000);
    expect(s).toHaveLength(1);
    s = addSample(s, 0.1, 2000);
    expect(movedUpdates(s)).toBe(1);
  });

  it('says nothing from one sample or one move', () => {
    expect(measuredEta([{ at: 0, progress: 0.05 }], 34_000)).toBeNull();
    expect(measuredEta([{ at: 0, progress: 0.05 }, { at: 1000, progress: 0.5 }], 1000)).toBeNull();
  });

  it('estimates from two moves, and the estimate grows while the job stalls', () => {
    const s = [{ at: 0, progress: 0.1 }, { at: 10_000, progress: 0.2 }, { at: 20_000, progress: 0.3 }];
    // 0.2 done in 20 s: 0.7 left takes 70 s.
    expect(measuredEta(s, 20_000)).toBeCloseTo(70, 6);
    expect(measuredEta(s, 40_000)!).toBeGreaterThan(70);
  });
});

describe('JobProgress', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => {
    cleanup();
    vi.useRealTimers();
  });

  it('shows the step the job reports and estimates only after two moves', () => {
    current = job(0.05, 'step 1 of 6: reading the brief');
    const { rerender } = render(<JobProgress jobId="j1" title="Planning" />);
    expect(screen.getByTestId('job-step').textContent).toBe('step 1 of 6: reading the brief');
    expect(screen.getByTestId('job-eta').textContent).toContain('estimating…');
    act(() => vi.advanceTimersByTime(34_000));
    expect(screen.getByTestId('job-eta').textContent).toContain('estimating…');
    expect(screen.getByTestId('job-eta').textContent).not.toContain('1 s');
    current = job(0.2, 'step 2 of 6: writing copy');
    rerender(<JobProgress jobId="j1" title="Planning" />);
    expect(screen.getByTestId('job-step').textContent).toBe('step 2 of 6: writing copy');
    expect(screen.getByTestId('job-eta').textContent).toContain('estimating…');
    act(() => vi.advanceTimersByTime(6_000));
    current = job(0.4, 'step 3 of 6: naming ad sets');
    rerender(<JobProgress jobId="j1" title="Planning" />);
    // 0.35 in 40 s: 0.6 left is about 69 s.
    expect(screen.getByTestId('job-eta').textContent).toBe(' · about 1 min 9 s left');
  });

  it('shows no ETA once the job is done', () => {
    current = job(1, 'done', 'succeeded');
    render(<JobProgress jobId="j1" title="Planning" />);
    expect(screen.queryByTestId('job-eta')).toBeNull();
  });
});
