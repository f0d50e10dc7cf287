'use client';

/**
 * Deployment: one deployment per platform (`POST /api/deployments`, a job), a rehearsal of the
 * whole plan in the sandbox (the same route with platform `sandbox`), a draft plan approved in
 * the same step once the user confirms it (`approve: true`), each deployment with its
 * status, the platform objects it made with their external ids (the ledger, from
 * `GET /api/deployments/{id}`), its log (deployment and sync events), pause and resume,
 * redeploy, and for the sandbox a control that simulates days and syncs them
 * (`POST /api/deployments/{id}/sync {days}`).
 */

import { useEffect, useState } from 'react';
import { ApiError, post, query } from '@/lib/api';
import { useEventHistory, useLiveEvents } from '@/lib/events';
import { useApi } from '@/lib/hooks';
import { placeError, type PlacedError } from '@/lib/forms';
import type { Campaign, Deployment } from '@/lib/types';
import CampaignFrame from '../CampaignFrame';
import JobProgress from '../JobProgress';
import { Button, Card, Empty, ErrorBanner, StatusBadge, States, TableWrap, formatTime, inputClass, shortId, td, tdLabel, th } from '../ui';

const LOG_KINDS = ['deployment.updated', 'metrics.synced', 'action.applied', 'action.failed'] as const;

function LogList({ entries }: { entries: ReturnType<typeof useEventHistory> }) {
  if (entries.length === 0) return <p className="text-sm text-slate-700">No events yet.</p>;
  return (
    <ol className="max-h-56 overflow-auto text-xs" aria-label="Deployment log">
      {[...entries].reverse().map((e) => {
        const d = e.data;
        const range = d.range as { since?: string; until?: string } | undefined;
        const text =
          e.kind === 'deployment.updated'
            ? `status ${String(d.status)}${d.error ? `: ${String(d.error)}` : ''}`
            : e.kind === 'metrics.synced'
              ? `synced ${String(d.rows)} rows${range ? ` (${range.since} → ${range.until})` : ''}`
              : `${e.kind.replace('action.', 'action ')} ${String(d.kind ?? '')}`;
        return (
          <li key={e.id} className="border-b border-slate-100 py-1">
            <span className="font-mono text-slate-600">#{e.id}</span> {text}
          </li>
        );
      })}
    </ol>
  );
}

function DeploymentCard({ deployment, log, onChanged }: { deployment: Deployment; log: ReturnType<typeof useEventHistory>; onChanged: () => void }) {
  const detail = useApi<Deployment>(`/api/deployments/${encodeURIComponent(deployment.id)}`);
  const d = detail.data ?? deployment;
  const [days, setDays] = useState(14);
  const [jobs, setJobs] = useState<{ id: string; title: string }[]>(d.job_id && (d.status === 'pending' || d.status === 'deploying') ? [{ id: d.job_id, title: 'Deploying' }] : []);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<PlacedError>({ fields: {}, general: null });
  useLiveEvents(['deployment.updated'], (e) => {
    if (e.data.deployment_id === deployment.id) detail.reload();
  });
  // The list was read again (a job finished): read this deployment's detail again too.
  const { reload } = detail;
  useEffect(() => reload(), [deployment.status, deployment.updated_at, reload]);

  const act = async (label: string, path: string, body: unknown, title?: string) => {
    setBusy(label);
    setError({ fields: {}, general: null });
    try {
      const answer = await post<{ job_id?: string }>(path, body);
      if (answer?.job_id && title) setJobs((j) => [...j, { id: answer.job_id!, title }]);
      detail.reload();
      onChanged();
    } catch (e) {
      if (e instanceof ApiError && e.isMissingRoute) {
        setError({ fields: {}, general: `${label} is not available on this server yet (${e.message}).` });
      } else {
        setError(placeError(e, ['days']));
      }
    } finally {
      setBusy(null);
    }
  };
  const base = `/api/deployments/${encodeURIComponent(d.id)}`;
  const live = d.status === 'active' || d.status === 'paused';
  return (
    <article className="rounded border border-slate-300 bg-white p-3" data-testid="deployment" data-platform={d.platform}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h3 className="font-medium">
          {d.platform} <span className="text-xs font-normal text-slate-600">deployment {shortId(d.id)} · updated {formatTime(d.updated_at)}</span>
        </h3>
        <div className="flex flex-wrap items-center gap-2">
          <StatusBadge status={d.status} />
          {d.status === 'active' ? (
            <Button variant="secondary" busy={busy === 'Pause'} onClick={() => act('Pause', `${base}/pause`, {})}>Pause</Button>
          ) : null}
          {d.status === 'paused' ? (
            <Button variant="secondary" busy={busy === 'Resume'} onClick={() => act('Resume', `${base}/resume`, {})}>Resume</Button>
          ) : null}
          <Button variant="secondary" busy={busy === 'Redeploy'} onClick={() => act('Redeploy', `${base}/redeploy`, {}, 'Redeploying')}>
            Redeploy
          </Button>
        </div>
      </div>
      {d.error ? <ErrorBanner error={d.error} /> : null}
      <ErrorBanner error={error.general} />
      {live ? (
        <form
          className="mt-2 flex flex-wrap items-end gap-2"
          onSubmit={(e) => {
            e.preventDefault();
            void act('Sync', `${base}/sync`, d.platform === 'sandbox' ? { days } : {}, d.platform === 'sandbox' ? `Simulating ${days} days` : 'Syncing');
          }}
        >
          {d.platform === 'sandbox' ? (
            <label className="flex flex-col text-sm">
              <span className="font-medium">Days to simulate</span>
              <input
                type="number"
                min={1}
                max={90}
                value={days}
                onChange={(e) => setDays(Number(e.target.value))}
                className={`${inputClass} w-24`}
                aria-invalid={error.fields.days ? true : undefined}
                aria-describedby={error.fields.days ? `days-error-${d.id}` : undefined}
                data-testid="sync-days"
              />
            </label>
          ) : null}
          <Button type="submit" busy={busy === 'Sync'} data-testid="sync">
            {d.platform === 'sandbox' ? 'Advance and sync' : 'Sync metrics'}
          </Button>
          {error.fields.days ? <p id={`days-error-${d.id}`} role="alert" className="w-full text-sm text-red-800">{error.fields.days}</p> : null}
        </form>
      ) : null}
      {jobs.map((j) => (
        <JobProgress key={j.id} jobId={j.id} title={j.title} onDone={() => { detail.reload(); onChanged(); }} />
      ))}
      <div className="mt-3 grid gap-3 lg:grid-cols-2">
        <section aria-label="Platform objects">
          <h4 className="mb-1 text-sm font-semibold">Platform objects</h4>
          {d.objects && d.objects.length > 0 ? (
            <TableWrap label={`${d.platform} objects`}>
              <table className="w-full border-collapse text-left">
                <thead>
                  <tr>
                    <th scope="col" className={th}>Kind</th>
                    <th scope="col" className={th}>adforge id</th>
                    <th scope="col" className={th}>External id</th>
                  </tr>
                </thead>
                <tbody>
                  {d.objects.map((o) => (
                    <tr key={`${o.kind}-${o.local_id}`}>
                      <td className={tdLabel}>{o.kind}</td>
                      <td className={`${td} font-mono text-xs`}>{o.local_id}</td>
                      <td className={`${td} font-mono text-xs`} data-testid="external-id">{o.external_id}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          ) : (
            <p className="text-sm text-slate-700">{detail.loading ? 'Loading…' : 'Nothing made on the platform yet.'}</p>
          )}
        </section>
        <section aria-label="Log">
          <h4 className="mb-1 text-sm font-semibold">Log</h4>
          <LogList entries={log.filter((e) => e.data.deployment_id === d.id)} />
        </section>
      </div>
    </article>
  );
}

/** What a deploy asks for: a real platform, or the sandbox rehearsing the whole plan. */
interface DeployTarget {
  platform: string;
  rehearsal: boolean;
}

/** The request body of `POST /api/deployments`; `approve` only where the user confirmed it. */
export function deployBody(campaignId: string, target: DeployTarget, approve: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = { campaign_id: campaignId, platform: target.rehearsal ? 'sandbox' : target.platform };
  if (approve) body.approve = true;
  return body;
}

/** A 409 that asks for the plan to be approved first. */
export function needsApproval(e: unknown): boolean {
  return e instanceof ApiError && e.status === 409 && /approv/i.test(e.message);
}

export function Deployments({ campaign, reload }: { campaign: Campaign; reload: () => void }) {
  const list = useApi<{ deployments: Deployment[] }>(`/api/deployments${query({ campaign_id: campaign.id, limit: 100 })}`);
  const log = useEventHistory(LOG_KINDS);
  const real = campaign.platforms.filter((p) => p !== 'sandbox');
  const choices = real.length > 0 ? real : ['sandbox'];
  const [platform, setPlatform] = useState(choices[0]);
  const [busy, setBusy] = useState<'deploy' | 'rehearse' | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [confirm, setConfirm] = useState<{ target: DeployTarget; message: string | null } | null>(null);
  const [job, setJob] = useState<{ id: string; title: string } | null>(null);
  const existing = new Set((list.data?.deployments ?? []).map((d) => d.platform));
  const isDraft = campaign.status === 'draft';

  const deploy = async (target: DeployTarget, approve: boolean) => {
    setBusy(target.rehearsal ? 'rehearse' : 'deploy');
    setError(null);
    try {
      const answer = await post<{ job_id?: string }>('/api/deployments', deployBody(campaign.id, target, approve));
      setConfirm(null);
      if (answer.job_id) setJob({ id: answer.job_id, title: target.rehearsal ? 'Rehearsing the whole plan in the sandbox' : `Deploying to ${target.platform}` });
      list.reload();
      if (approve) reload();
    } catch (e) {
      if (needsApproval(e)) setConfirm({ target, message: (e as ApiError).message });
      else setError(e);
    } finally {
      setBusy(null);
    }
  };
  /** A draft plan is approved in the same step: the user says so first. */
  const start = (target: DeployTarget) => {
    if (isDraft) setConfirm({ target, message: null });
    else void deploy(target, false);
  };
  const where = (t: DeployTarget) => (t.rehearsal || t.platform === 'sandbox' ? 'the sandbox' : t.platform);

  return (
    <>
      <Card title="Deploy">
        <p className="mb-2 text-sm" data-testid="campaign-status">
          Campaign status: <StatusBadge status={campaign.status} />
          {isDraft ? <span className="ml-2 text-slate-700">The plan is not approved yet: deploying approves it.</span> : null}
        </p>
        <div className="flex flex-wrap items-end gap-2">
          <label className="flex flex-col text-sm">
            <span className="font-medium">Platform</span>
            <select className={inputClass} value={platform} onChange={(e) => setPlatform(e.target.value)}>
              {choices.map((p) => (
                <option key={p} value={p}>{p}{existing.has(p) ? ' (deployed)' : ''}</option>
              ))}
            </select>
          </label>
          <Button onClick={() => start({ platform, rehearsal: false })} busy={busy === 'deploy'} disabled={busy !== null} data-testid="deploy">
            Deploy to {platform}
          </Button>
          <Button variant="secondary" onClick={() => start({ platform: 'sandbox', rehearsal: true })} busy={busy === 'rehearse'} disabled={busy !== null} data-testid="rehearse">
            Rehearse in the sandbox
          </Button>
        </div>
        <p className="mt-1 text-xs text-slate-600">
          A rehearsal simulates the whole plan in the sandbox (every platform&apos;s ad sets, with the full budget) and spends nothing.
          {real.length === 0 ? ' This plan names no real platform, so deploying it is its rehearsal.' : ''} Everything is checked first; a
          campaign that is not ready gets a message naming what is missing.
        </p>
        {confirm ? (
          <div role="group" aria-labelledby="confirm-approve-title" className="mt-3 rounded border border-amber-300 bg-amber-50 p-3 text-sm" data-testid="confirm-approve">
            <p id="confirm-approve-title" className="font-semibold">Deploying approves the plan</p>
            <p className="mt-1 text-slate-800">
              This campaign is a draft. Deploying to {where(confirm.target)} approves its plan as it stands: the campaign becomes active
              {where(confirm.target) === 'the sandbox' ? ' (the sandbox spends nothing).' : ` and starts spending on ${confirm.target.platform}.`}
            </p>
            {confirm.message ? <p className="mt-1 text-xs text-slate-700">The server said: {confirm.message}</p> : null}
            <div className="mt-2 flex gap-2">
              <Button onClick={() => deploy(confirm.target, true)} busy={busy !== null} data-testid="confirm-deploy">
                Approve and deploy
              </Button>
              <Button variant="secondary" onClick={() => setConfirm(null)}>
                Cancel
              </Button>
            </div>
          </div>
        ) : null}
        <ErrorBanner error={error} />
        {job ? <JobProgress key={job.id} jobId={job.id} title={job.title} onDone={() => { list.reload(); reload(); }} /> : null}
      </Card>
      <States
        loading={list.loading && !list.data}
        error={list.error}
        onRetry={list.reload}
        empty={list.data && list.data.deployments.length === 0 ? <Empty title="Not deployed yet">Rehearse in the sandbox first: it simulates delivery of the whole plan day by day.</Empty> : false}
      >
        <div className="flex flex-col gap-4">
          {(list.data?.deployments ?? []).map((d) => <DeploymentCard key={d.id} deployment={d} log={log} onChanged={list.reload} />)}
        </div>
      </States>
    </>
  );
}

export default function Deploy() {
  return <CampaignFrame>{({ campaign, reload }) => <Deployments campaign={campaign} reload={reload} />}</CampaignFrame>;
}
