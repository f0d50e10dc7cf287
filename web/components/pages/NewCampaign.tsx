'use client';

/**
 * A campaign from a brief: the logo goes up first (`POST /api/assets`), the brief to the
 * planner (`POST /api/campaigns/plan`, a `campaign.plan` job followed live), and when the job
 * has made the draft campaign its brand kit is written into the campaign's brief
 * (`PATCH /api/campaigns/{id}` with `If-Match`), where creative generation reads it.
 */

import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { ApiError, request } from '@/lib/api';
import { placeError, type PlacedError } from '@/lib/forms';
import type { JobWatch } from '@/lib/jobs';
import { OBJECTIVES, PLATFORMS, type Campaign } from '@/lib/types';
import JobProgress from '../JobProgress';
import { Button, Card, ErrorBanner, Field, PageHeader, describedBy, inputClass } from '../ui';

const FIELDS = [
  'product', 'audience', 'objective', 'currency', 'total_budget', 'start_date', 'end_date', 'platforms',
  'countries', 'age_min', 'age_max', 'landing_url', 'logo', 'brand',
] as const;
const ALIASES: Record<string, string> = { body: 'brand', name: 'logo', 'Content-Type': 'logo' };
const FONTS = ['DejaVu Sans', 'DejaVu Serif'];
const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'CAD', 'AUD', 'KWD'];

function isoDay(offsetDays: number): string {
  const d = new Date();
  d.setDate(d.getDate() + offsetDays);
  return d.toISOString().slice(0, 10);
}

/** A file name the asset store accepts: letters, digits, `.`, `_` and `-`. */
export function assetName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');
  return cleaned.slice(-100) || 'upload';
}

export default function NewCampaign() {
  const router = useRouter();
  const [form, setForm] = useState({
    product: '',
    audience: '',
    objective: 'sales',
    currency: 'USD',
    total_budget: '700.00',
    start_date: isoDay(0),
    end_date: isoDay(13),
    countries: 'US',
    age_min: '',
    age_max: '',
    landing_url: 'https://',
    primary: '#1D4ED8',
    secondary: '#F59E0B',
    text: '#FFFFFF',
    font: FONTS[0],
  });
  const [platforms, setPlatforms] = useState<string[]>(['sandbox']);
  const [logo, setLogo] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<PlacedError>({ fields: {}, general: null });
  const [jobId, setJobId] = useState<string | null>(null);
  const [logoAssetId, setLogoAssetId] = useState<string | null>(null);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const fail = (e: unknown) => {
    setError(placeError(e, FIELDS, ALIASES));
    setBusy(false);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError({ fields: {}, general: null });
    try {
      let logoId = logoAssetId;
      if (logo && !logoId) {
        const uploaded = await request<{ id: string }>(`/api/assets?name=${encodeURIComponent(assetName(logo.name))}`, {
          method: 'POST',
          body: logo,
          contentType: logo.type || 'application/octet-stream',
        }).catch((err: unknown) => {
          throw err instanceof ApiError ? new ApiError(err.status, err.code, `logo: ${err.message}`) : err;
        });
        logoId = uploaded.data.id;
        setLogoAssetId(logoId);
      }
      const countries = form.countries.split(/[\s,]+/).map((c) => c.trim().toUpperCase()).filter(Boolean);
      const body: Record<string, unknown> = {
        product: form.product,
        audience: form.audience,
        objective: form.objective,
        currency: form.currency,
        total_budget: form.total_budget.trim(),
        start_date: form.start_date,
        end_date: form.end_date,
        platforms,
        countries,
        landing_url: form.landing_url.trim(),
      };
      if (form.age_min) body.age_min = Number(form.age_min);
      if (form.age_max) body.age_max = Number(form.age_max);
      const answer = await request<{ job_id: string }>('/api/campaigns/plan', { method: 'POST', json: body });
      setJobId(answer.data.job_id);
    } catch (err) {
      fail(err);
    }
  };

  /** The plan is stored: put the brand kit into the campaign's brief, then open the campaign. */
  const planned = async (w: JobWatch) => {
    const job = w.job;
    if (!job || job.state !== 'succeeded') {
      setBusy(false);
      setError({ fields: {}, general: job?.error ?? `the planner job ${job?.state ?? 'stopped'}` });
      return;
    }
    const campaignId = (job.result as { campaign_id?: string } | null)?.campaign_id;
    if (!campaignId) {
      fail(new Error('the planner finished without naming a campaign'));
      return;
    }
    try {
      const current = await request<Campaign>(`/api/campaigns/${encodeURIComponent(campaignId)}`);
      const brand = { primary: form.primary, secondary: form.secondary, text: form.text, font: form.font, logo_asset_id: logoAssetId };
      await request(`/api/campaigns/${encodeURIComponent(campaignId)}`, {
        method: 'PATCH',
        json: { brief: { ...(current.data.brief ?? {}), brand } },
        headers: { 'If-Match': current.headers.get('etag') ?? `"${current.data.version}"` },
      });
    } catch (err) {
      // The campaign exists: open it anyway and say what did not stick.
      console.warn('brand kit not saved', err);
    }
    router.push(`/campaign/?id=${encodeURIComponent(campaignId)}`);
  };

  const togglePlatform = (p: string) =>
    setPlatforms((list) => (list.includes(p) ? list.filter((x) => x !== p) : [...list, p]));
  const fe = error.fields;
  const text = (id: keyof typeof form, label: string, opts: { type?: string; hint?: string; required?: boolean } = {}) => (
    <Field id={id} label={label} hint={opts.hint} error={fe[id]}>
      <input
        {...describedBy(id, Boolean(opts.hint), fe[id])}
        name={id}
        type={opts.type ?? 'text'}
        required={opts.required}
        value={form[id]}
        onChange={set(id)}
        className={inputClass}
      />
    </Field>
  );

  return (
    <>
      <PageHeader title="New campaign from a brief" />
      <ErrorBanner error={error.general} />
      <form onSubmit={submit} noValidate aria-describedby="brief-help">
        <p id="brief-help" className="mb-3 text-sm text-slate-700">
          The planner writes the plan (budget split, audiences, concepts and copy) from this brief; every number in it is computed.
        </p>
        <Card title="Brief">
          <div className="grid gap-4 md:grid-cols-2">
            <Field id="product" label="Product" error={fe.product} hint="What is advertised (1–500 characters)." className="md:col-span-2">
              <textarea {...describedBy('product', true, fe.product)} name="product" rows={3} required value={form.product} onChange={set('product')} className={inputClass} />
            </Field>
            <Field id="audience" label="Audience" error={fe.audience} hint="Who it is for (up to 300 characters)." className="md:col-span-2">
              <input {...describedBy('audience', true, fe.audience)} name="audience" value={form.audience} onChange={set('audience')} className={inputClass} />
            </Field>
            <Field id="objective" label="Goal" error={fe.objective}>
              <select {...describedBy('objective', false, fe.objective)} name="objective" value={form.objective} onChange={set('objective')} className={inputClass}>
                {OBJECTIVES.map((o) => <option key={o} value={o}>{o.replace('_', ' ')}</option>)}
              </select>
            </Field>
            {text('landing_url', 'Landing page', { type: 'url', hint: 'The http(s) page the ads link to.', required: true })}
          </div>
        </Card>
        <Card title="Budget and schedule">
          <div className="grid gap-4 md:grid-cols-4">
            <Field id="currency" label="Currency" error={fe.currency}>
              <input {...describedBy('currency', false, fe.currency)} name="currency" list="currencies" value={form.currency} onChange={set('currency')} className={inputClass} maxLength={3} />
              <datalist id="currencies">{CURRENCIES.map((c) => <option key={c} value={c} />)}</datalist>
            </Field>
            {text('total_budget', 'Total budget', { hint: 'Over the whole schedule, e.g. 700.00', required: true })}
            {text('start_date', 'Start date', { type: 'date', required: true })}
            {text('end_date', 'End date', { type: 'date', required: true })}
          </div>
        </Card>
        <Card title="Where and to whom">
          <fieldset aria-describedby={fe.platforms ? 'platforms-error' : undefined}>
            <legend className="text-sm font-medium">Platforms</legend>
            <div className="mt-1 flex flex-wrap gap-4">
              {PLATFORMS.map((p) => (
                <label key={p} className="flex items-center gap-2 text-sm">
                  <input type="checkbox" name="platforms" value={p} checked={platforms.includes(p)} onChange={() => togglePlatform(p)} />
                  {p}
                  {p === 'sandbox' ? <span className="text-xs text-slate-600">(simulated; the default)</span> : null}
                </label>
              ))}
            </div>
            {fe.platforms ? <p id="platforms-error" role="alert" className="text-sm text-red-800">{fe.platforms}</p> : null}
          </fieldset>
          <div className="mt-4 grid gap-4 md:grid-cols-3">
            {text('countries', 'Countries', { hint: 'ISO codes, comma-separated (default US).' })}
            {text('age_min', 'Minimum age', { type: 'number', hint: '13 to 65' })}
            {text('age_max', 'Maximum age', { type: 'number', hint: '13 to 65' })}
          </div>
        </Card>
        <Card title="Brand kit">
          <div className="grid gap-4 md:grid-cols-5">
            {text('primary', 'Primary colour', { type: 'color' })}
            {text('secondary', 'Secondary colour', { type: 'color' })}
            {text('text', 'Text colour', { type: 'color' })}
            <Field id="font" label="Font">
              <select id="font" name="font" value={form.font} onChange={set('font')} className={inputClass}>
                {FONTS.map((f) => <option key={f}>{f}</option>)}
              </select>
            </Field>
            <Field id="logo" label="Logo" hint="PNG, JPEG or WebP." error={fe.logo}>
              <input
                {...describedBy('logo', true, fe.logo)}
                name="logo"
                type="file"
                accept="image/png,image/jpeg,image/webp"
                onChange={(e) => {
                  setLogo(e.target.files?.[0] ?? null);
                  setLogoAssetId(null);
                }}
                className="text-sm"
              />
            </Field>
          </div>
          {fe.brand ? <p role="alert" className="mt-2 text-sm text-red-800">{fe.brand}</p> : null}
        </Card>
        <div className="flex gap-2">
          <Button type="submit" busy={busy}>
            Plan campaign
          </Button>
        </div>
      </form>
      {jobId ? <JobProgress jobId={jobId} title="Planning" onDone={planned} /> : null}
    </>
  );
}
