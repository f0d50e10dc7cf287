'use client';

/**
 * Creative generation for a campaign: `POST /api/generate {campaign_id, formats, variants,
 * video, brand?, logo?, product_image?}` starts a `creative.set` job (the brand kit, logo and
 * product photo come from the campaign's `brief.brand`, stored there at planning); its progress streams in; the creatives tab shows what it made.
 */

import Link from 'next/link';
import { useState } from 'react';
import { post } from '@/lib/api';
import { placeError, type PlacedError } from '@/lib/forms';
import { describeSize, formatsForPlatform } from '@/lib/formats';
import { jobIdOf } from '@/lib/jobs';
import type { Campaign } from '@/lib/types';

/** The brand kit the new-campaign form stores in the campaign's brief. */
interface BrandKit {
  primary?: string;
  secondary?: string;
  text?: string;
  font?: string;
  logo_asset_id?: string | null;
  /** The product photo uploaded with the brief. */
  product_asset_id?: string | null;
}
import JobProgress from '../JobProgress';
import { Button, Card, ErrorBanner, inputClass } from '../ui';

export default function GeneratePanel({ campaign }: { campaign: Campaign }) {
  const available = [...new Map(campaign.platforms.flatMap(formatsForPlatform).map((f) => [f.id, f])).values()];
  const [formats, setFormats] = useState<string[]>(available.map((f) => f.id));
  const [variants, setVariants] = useState(2);
  const [video, setVideo] = useState(true);
  const [videoSeconds, setVideoSeconds] = useState(15);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<PlacedError>({ fields: {}, general: null });
  const [jobId, setJobId] = useState<string | null>(null);
  const [done, setDone] = useState(false);

  const start = async () => {
    setBusy(true);
    setDone(false);
    setError({ fields: {}, general: null });
    try {
      const body: Record<string, unknown> = { campaign_id: campaign.id, formats, variants, video };
      if (video) body.video_seconds = videoSeconds;
      const brand = (campaign.brief as { brand?: BrandKit } | null)?.brand;
      if (brand?.primary && brand.secondary) {
        body.brand = { primary: brand.primary, secondary: brand.secondary, text: brand.text ?? null, font: brand.font ?? null };
      }
      if (brand?.logo_asset_id) body.logo = brand.logo_asset_id;
      if (brand?.product_asset_id) body.product_image = brand.product_asset_id;
      const answer = await post<unknown>('/api/generate', body);
      const id = jobIdOf(answer);
      if (!id) throw new Error('the server answered without a job id');
      setJobId(id);
    } catch (e) {
      setError(placeError(e, ['formats', 'variants', 'video', 'video_seconds'], { brand: 'formats', logo: 'formats', product_image: 'formats' }));
    } finally {
      setBusy(false);
    }
  };

  const toggle = (id: string) => setFormats((l) => (l.includes(id) ? l.filter((x) => x !== id) : [...l, id]));
  return (
    <Card title="Generate creatives">
      <ErrorBanner error={error.general} />
      <fieldset aria-describedby={error.fields.formats ? 'formats-error' : undefined}>
        <legend className="text-sm font-medium">Formats</legend>
        <div className="mt-1 grid gap-1 sm:grid-cols-2 lg:grid-cols-3">
          {available.map((f) => (
            <label key={f.id} className="flex items-center gap-2 text-sm">
              <input type="checkbox" checked={formats.includes(f.id)} onChange={() => toggle(f.id)} />
              <span>
                {f.id} <span className="text-xs text-slate-600">{describeSize(f.width, f.height)}</span>
              </span>
            </label>
          ))}
        </div>
        {error.fields.formats ? <p id="formats-error" role="alert" className="text-sm text-red-800">{error.fields.formats}</p> : null}
      </fieldset>
      <div className="mt-3 flex flex-wrap items-end gap-4">
        <label className="flex flex-col text-sm">
          <span className="font-medium">Copy variants per platform</span>
          <input
            type="number"
            min={1}
            max={4}
            value={variants}
            onChange={(e) => setVariants(Number(e.target.value))}
            className={`${inputClass} w-24`}
            aria-invalid={error.fields.variants ? true : undefined}
            aria-describedby={error.fields.variants ? 'variants-error' : undefined}
          />
        </label>
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={video} onChange={(e) => setVideo(e.target.checked)} />
          Also render a video per 9:16 format
        </label>
        <label className="flex flex-col text-sm">
          <span className="font-medium">Video length</span>
          <select
            value={videoSeconds}
            onChange={(e) => setVideoSeconds(Number(e.target.value))}
            disabled={!video}
            className={`${inputClass} w-32`}
            aria-invalid={error.fields.video_seconds ? true : undefined}
          >
            {[6, 10, 15, 30].map((s) => (
              <option key={s} value={s}>
                {s} seconds
              </option>
            ))}
          </select>
        </label>
        <Button onClick={start} busy={busy} disabled={formats.length === 0}>
          Generate
        </Button>
      </div>
      {error.fields.variants ? <p id="variants-error" role="alert" className="text-sm text-red-800">{error.fields.variants}</p> : null}
      {jobId ? (
        <JobProgress jobId={jobId} title="Generating creatives" onDone={(w) => setDone(w.job?.state === 'succeeded')} />
      ) : null}
      {done ? (
        <p className="text-sm">
          Done: <Link className="text-blue-800 underline" href={`/creatives/?id=${encodeURIComponent(campaign.id)}`}>review the creatives</Link>.
        </p>
      ) : null}
    </Card>
  );
}
