'use client';

/** Agent runs with their tool calls (`GET /api/campaigns/{id}/runs`): how the plan was made. */

import type { AgentRun, ToolCall } from '@/lib/types';
import { Card, StatusBadge, formatTime } from '../ui';

function isTrace(t: unknown): t is ToolCall[] {
  return Array.isArray(t) && t.every((s) => s && typeof s === 'object' && 'tool' in s);
}

function Json({ value }: { value: unknown }) {
  return (
    <pre className="max-h-64 overflow-auto rounded bg-slate-100 p-2 text-xs text-slate-900">{JSON.stringify(value, null, 2)}</pre>
  );
}

export default function TraceView({ runs }: { runs: AgentRun[] }) {
  return (
    <Card title="Agent runs and tool calls">
      {runs.length === 0 ? <p className="text-sm text-slate-700">No agent has run on this campaign yet.</p> : null}
      <ol className="flex flex-col gap-3">
        {runs.map((run) => (
          <li key={run.id} className="rounded border border-slate-200 p-3">
            <div className="flex flex-wrap items-center gap-2">
              <h3 className="font-medium">{run.agent}</h3>
              <StatusBadge status={run.status} />
              <span className="text-xs text-slate-600">{formatTime(run.created_at)} · seed {run.seed}</span>
            </div>
            {run.error ? <p className="text-sm text-red-800">{run.error}</p> : null}
            {isTrace(run.trace) ? (
              <ol className="mt-2 flex flex-col gap-1" aria-label={`${run.agent} tool calls`}>
                {run.trace.map((step) => (
                  <li key={step.step}>
                    <details className="rounded border border-slate-100 p-2">
                      <summary className="cursor-pointer text-sm">
                        <span className="font-mono">{step.step}. {step.tool}</span>{' '}
                        <span className="text-xs text-slate-600">chosen by {step.chosen_by}</span> — {step.reason}
                      </summary>
                      <div className="mt-2 grid gap-2 md:grid-cols-2">
                        <div><p className="text-xs font-semibold">Arguments</p><Json value={step.arguments} /></div>
                        <div><p className="text-xs font-semibold">Result</p><Json value={step.result} /></div>
                      </div>
                    </details>
                  </li>
                ))}
              </ol>
            ) : run.trace ? (
              <details className="mt-2">
                <summary className="cursor-pointer text-sm">Evidence</summary>
                <Json value={run.trace} />
              </details>
            ) : null}
            {run.output ? (
              <details className="mt-2">
                <summary className="cursor-pointer text-sm">Output</summary>
                <Json value={run.output} />
              </details>
            ) : null}
          </li>
        ))}
      </ol>
    </Card>
  );
}
