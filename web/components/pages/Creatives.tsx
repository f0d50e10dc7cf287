'use client';

/**
 * Creative review: every creative of the campaign (`GET /api/creatives?campaign_id=`) with
 * each format at its true aspect ratio, safe zones on demand, copy with character counts
 * against the platform's limits, videos with their poster, regeneration of one variant
 * (`POST /api/creatives/{id}/regenerate`, a job), approval or rejection of each
 * (`PATCH /api/creatives/{id}` with `If-Match`), and everything as one zip.
 */

import { useCallback, useEffect, useState } from 'react';
import { ApiError, get, post, query, request } from '@/lib/api';
import { COPY_FIELDS, variantFits } from '@/lib/copyLimits';
import { useLiveEvents } from '@/lib/events';
import { jobIdOf } from '@/lib/jobs';
import type { Campaign, Creative } from '@/lib/types';
import { displayKeys } from '@/lib/creatives';
import { saveBlob, zipCreatives, zipName } from '@/lib/zip';
import CampaignFrame from '../CampaignFrame';
import CopyLine from '../CopyCounter';
import FormatPreview from '../FormatPreview';
import JobProgress from '../JobProgress';
import { Button, Card, Empty, ErrorBanner, StatusBadge, States, inputClass } from '../ui';

const MAX_PAGES = 20;

export { displayKeys } from '@/lib/creatives';

function CreativeCard({ creative, showZones, onChanged }: { creative: Creative; showZones: boolean; onChanged: () => void }) {
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const copy = creative.copy ?? {};
  const alt = [copy.headline, copy.primary_text, copy.call_to_action].filter(Boolean).join(' — ');
  const regenerate = async () => {
    setBusy(true);
    setError(null);
    try {
      const answer = await post<unknown>(`/api/creatives/${encodeURIComponent(creative.id)}/regenerate`, {});
      setJobId(jobIdOf(answer));
    } catch (e) {
      setError(e instanceof ApiError && e.isMissingRoute ? 'Regenerating one variant is not available on this server yet.' : e);
    } finally {
      setBusy(false);
    }
  };
  const fits = variantFits(creative.platform, copy);
  const decide = async (status: 'approved' | 'rejected') => {
    setBusy(true);
    setError(null);
    try {
      await request(`/api/creatives/${encodeURIComponent(creative.id)}`, {
        method: 'PATCH',
        json: { status },
        headers: { 'If-Match': `"${creative.version}"` },
      });
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <article className="rounded border border-slate-300 bg-white p-3" data-testid="creative">
      <div className="mb-2 flex flex-wrap items-center justify-between gap-2">
        <h3 className="font-medium">
          {creative.name} <span className="text-xs font-normal text-slate-600">{creative.platform}</span>
        </h3>
        <div className="flex flex-wrap items-center gap-2">
          <StatusBadge status={creative.status} />
          {!fits ? <span className="text-xs font-semibold text-red-800">copy over a limit</span> : null}
          {creative.status !== 'approved' ? (
            <Button variant="secondary" onClick={() => decide('approved')} disabled={busy} aria-label={`Approve ${creative.name}`}>
              Approve
            </Button>
          ) : null}
          {creative.status !== 'rejected' ? (
            <Button variant="secondary" onClick={() => decide('rejected')} disabled={busy} aria-label={`Reject ${creative.name}`}>
              Reject
            </Button>
          ) : null}
          <Button variant="secondary" onClick={regenerate} busy={busy} disabled={Boolean(jobId)}>
            Regenerate
          </Button>
        </div>
      </div>
      <div className="mb-3 flex flex-col gap-1" aria-label="Copy">
        {COPY_FIELDS.map((f) => <CopyLine key={f} platform={creative.platform} field={f} text={copy[f]} />)}
        {copy.call_to_action ? <p className="text-sm"><span className="font-medium text-slate-700">Call to action: </span>{copy.call_to_action}</p> : null}
      </div>
      <div className="flex flex-wrap items-end gap-4">
        {displayKeys(creative.assets).map((key) => {
          const format = key.startsWith('video:') ? key.slice(6) : key;
          return (
            <FormatPreview
              key={key}
              formatKey={key}
              assetId={creative.assets[key]}
              posterId={creative.assets[`poster:${format}`] ?? creative.assets[format]}
              showZones={showZones}
              alt={alt || creative.name}
            />
          );
        })}
        {displayKeys(creative.assets).length === 0 ? <p className="text-sm text-slate-700">No rendered formats yet.</p> : null}
      </div>
      <ErrorBanner error={error} />
      {jobId ? <JobProgress jobId={jobId} title="Regenerating" onDone={() => onChanged()} /> : null}
    </article>
  );
}

function CreativeList({ campaign }: { campaign: Campaign }) {
  const [creatives, setCreatives] = useState<Creative[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [showZones, setShowZones] = useState(false);
  const [platform, setPlatform] = useState('');
  const [zipState, setZipState] = useState<string | null>(null);
  const [zipError, setZipError] = useState<unknown>(null);

  const load = useCallback(async () => {
    setLoading(true);
    try {
      const all: Creative[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < MAX_PAGES; i++) {
        const page: { creatives: Creative[]; next_cursor?: string | null } = await get(
          `/api/creatives${query({ campaign_id: campaign.id, limit: 100, cursor })}`,
        );
        all.push(...page.creatives);
        cursor = page.next_cursor ?? null;
        if (!cursor) break;
      }
      setCreatives(all);
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  }, [campaign.id]);

  useEffect(() => {
    void load();
  }, [load]);
  useLiveEvents(['creatives.generated'], (e) => {
    if (e.data.campaign_id === campaign.id) void load();
  });

  const shown = (creatives ?? []).filter((c) => !platform || c.platform === platform);
  const download = async () => {
    setZipError(null);
    setZipState('Preparing…');
    try {
      const blob = await zipCreatives(campaign.name, shown, (done, total) => setZipState(`Fetched ${done} of ${total} files…`));
      saveBlob(blob, zipName(campaign.name));
      setZipState(`Saved ${shown.length} creatives.`);
    } catch (e) {
      setZipError(e);
      setZipState(null);
    }
  };

  return (
    <>
      <Card
        title="Creatives"
        actions={
          <>
            <label className="flex items-center gap-2 text-sm">
              <span>Platform</span>
              <select className={`${inputClass} w-auto`} value={platform} onChange={(e) => setPlatform(e.target.value)}>
                <option value="">All</option>
                {campaign.platforms.map((p) => <option key={p}>{p}</option>)}
              </select>
            </label>
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" checked={showZones} onChange={(e) => setShowZones(e.target.checked)} data-testid="toggle-safe-zones" />
              Show safe zones
            </label>
            <Button variant="secondary" onClick={download} disabled={shown.length === 0 || (zipState !== null && zipState.endsWith('…'))}>
              Download all (.zip)
            </Button>
          </>
        }
      >
        <p className="text-sm text-slate-700" aria-live="polite">{zipState}</p>
        <ErrorBanner error={zipError} />
        <p className="text-xs text-slate-600">
          Shaded bands are where the platform&apos;s interface covers the ad (Stories: top 14%, bottom 20%; Reels: bottom 35%): keep text out of them.
        </p>
      </Card>
      <States
        loading={loading && !creatives}
        error={error instanceof ApiError && error.isMissingRoute ? 'Listing a campaign’s creatives is not available on this server yet.' : error}
        onRetry={load}
        empty={creatives && shown.length === 0 ? <Empty title="No creatives yet">Generate them from the Plan tab.</Empty> : false}
      >
        <div className="flex flex-col gap-4">
          {shown.map((c) => <CreativeCard key={c.id} creative={c} showZones={showZones} onChanged={load} />)}
        </div>
      </States>
    </>
  );
}

export default function Creatives() {
  return <CampaignFrame>{({ campaign }) => <CreativeList campaign={campaign} />}</CampaignFrame>;
}
