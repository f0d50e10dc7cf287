'use client';

/**
 * A campaign from a brief: the logo and the product photo go up first (`POST /api/assets`,
 * checked in the page for type and size), then the brief with its structured facts and the
 * brand kit (their asset ids in `brand_kit`) to the planner (`POST /api/campaigns/plan`, a
 * `campaign.plan` job followed live). The server stores the brand kit with the draft campaign
 * (`brief.brand`), so nothing is written after planning: closing the tab loses nothing.
 */

import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { ApiError, request } from '@/lib/api';
import { NO_ERROR, placeError, type PlacedError } from '@/lib/forms';
import type { JobWatch } from '@/lib/jobs';
import { OBJECTIVES, REAL_PLATFORMS } from '@/lib/types';
import { IMAGE_TYPES, MAX_IMAGE_BYTES, uploadImage } from '@/lib/uploads';
import { formatBytes } from '@/lib/forms';
import JobProgress from '../JobProgress';
import { Button, Card, ErrorBanner, Field, PageHeader, describedBy, inputClass } from '../ui';

export { assetName } from '@/lib/uploads';

/** The brief's limits, as `POST /api/campaigns/plan` checks them. */
export const BRIEF_LIMITS = {
  brand: 60,
  product: 500,
  benefits: 3,
  benefit: [2, 60] as const,
  offer: 80,
  audience: 300,
  interests: 10,
  interest: 40,
};

const FIELDS = [
  'brand', 'product', 'benefits', 'benefits[0]', 'benefits[1]', 'benefits[2]', 'offer', 'audience', 'objective', 'currency',
  'total_budget', 'start_date', 'end_date', 'platforms', 'countries', 'age_min', 'age_max', 'interests', 'landing_url',
  'primary', 'secondary', 'text', 'font', 'logo', 'product_photo', 'brand_kit',
] as const;
const ALIASES: Record<string, string> = {
  'brand_kit.primary': 'primary',
  'brand_kit.secondary': 'secondary',
  'brand_kit.text': 'text',
  'brand_kit.font': 'font',
  'brand_kit.logo_asset_id': 'logo',
  'brand_kit.product_asset_id': 'product_photo',
  product_asset_id: 'product_photo',
  logo_asset_id: 'logo',
  budget: 'total_budget',
  total_budget_micros: 'total_budget',
};
const FONTS = ['DejaVu Sans', 'DejaVu Serif'];
const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'CAD', 'AUD', 'KWD'];
const IMAGE_HINT = `PNG, JPEG or WebP, up to ${formatBytes(MAX_IMAGE_BYTES)}.`;

function isoDay(offsetDays: number): string {
  const d = new Date();
  d.setDate(d.getDate() + offsetDays);
  return d.toISOString().slice(0, 10);
}

/** Comma- or line-separated phrases, trimmed, empty ones dropped. */
export function splitList(text: string): string[] {
  return text.split(/[,\n]+/).map((s) => s.trim()).filter(Boolean);
}

/** The `platforms` a choice sends: the real ones ticked, or the sandbox alone for a rehearsal. */
export function platformsToSend(real: readonly string[], rehearse: boolean): string[] {
  if (real.length > 0) return [...real];
  return rehearse ? ['sandbox'] : [];
}

export interface BriefForm {
  brand: string;
  product: string;
  benefits: [string, string, string];
  offer: string;
  audience: string;
  objective: string;
  currency: string;
  total_budget: string;
  start_date: string;
  end_date: string;
  countries: string;
  age_min: string;
  age_max: string;
  interests: string;
  landing_url: string;
  primary: string;
  secondary: string;
  text: string;
  font: string;
}

/** The JSON body of `POST /api/campaigns/plan` from the form (optional fields only when given). */
export function briefBody(
  form: BriefForm,
  platforms: string[],
  assets: { logo?: string | null; product?: string | null },
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    product: form.product.trim(),
    audience: form.audience.trim(),
    objective: form.objective,
    currency: form.currency.trim().toUpperCase(),
    total_budget: form.total_budget.trim(),
    start_date: form.start_date,
    end_date: form.end_date,
    platforms,
    countries: form.countries.split(/[\s,]+/).map((c) => c.trim().toUpperCase()).filter(Boolean),
    landing_url: form.landing_url.trim(),
  };
  if (form.brand.trim()) body.brand = form.brand.trim();
  const benefits = form.benefits.map((b) => b.trim()).filter(Boolean);
  if (benefits.length) body.benefits = benefits;
  if (form.offer.trim()) body.offer = form.offer.trim();
  const interests = splitList(form.interests);
  if (interests.length) body.interests = interests;
  if (form.age_min) body.age_min = Number(form.age_min);
  if (form.age_max) body.age_max = Number(form.age_max);
  const kit: Record<string, string> = {
    primary: form.primary.toUpperCase(),
    secondary: form.secondary.toUpperCase(),
    text: form.text.toUpperCase(),
    font: form.font,
  };
  if (assets.logo) kit.logo_asset_id = assets.logo;
  if (assets.product) kit.product_asset_id = assets.product;
  body.brand_kit = kit;
  return body;
}

export default function NewCampaign() {
  const router = useRouter();
  const [form, setForm] = useState<BriefForm>({
    brand: '',
    product: '',
    benefits: ['', '', ''],
    offer: '',
    audience: '',
    objective: 'sales',
    currency: 'USD',
    total_budget: '700.00',
    start_date: isoDay(0),
    end_date: isoDay(13),
    countries: 'US',
    age_min: '',
    age_max: '',
    interests: '',
    landing_url: 'https://',
    primary: '#1D4ED8',
    secondary: '#F59E0B',
    text: '#FFFFFF',
    font: FONTS[0],
  });
  const [real, setReal] = useState<string[]>([]);
  const [rehearse, setRehearse] = useState(true);
  const [logo, setLogo] = useState<File | null>(null);
  const [photo, setPhoto] = useState<File | null>(null);
  const [uploaded, setUploaded] = useState<{ logo: string | null; product: string | null }>({ logo: null, product: null });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<PlacedError>(NO_ERROR);
  const [jobId, setJobId] = useState<string | null>(null);
  type TextKey = Exclude<keyof BriefForm, 'benefits'>;
  const set = (k: TextKey) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const setBenefit = (i: number, value: string) =>
    setForm((f) => ({ ...f, benefits: f.benefits.map((b, j) => (j === i ? value : b)) as BriefForm['benefits'] }));
  const fail = (e: unknown) => {
    setError(placeError(e, FIELDS, ALIASES));
    setBusy(false);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(NO_ERROR);
    setJobId(null);
    try {
      const platforms = platformsToSend(real, rehearse);
      if (platforms.length === 0) {
        throw new ApiError(400, 'invalid_request', 'platforms: tick at least one platform, or "Rehearse only (sandbox)"');
      }
      // The images go up before the plan: the server stores their ids with the draft campaign.
      let { logo: logoId, product: productId } = uploaded;
      if (logo && !logoId) {
        logoId = await uploadImage('logo', logo);
        setUploaded((u) => ({ ...u, logo: logoId }));
      }
      if (photo && !productId) {
        productId = await uploadImage('product_photo', photo);
        setUploaded((u) => ({ ...u, product: productId }));
      }
      const body = briefBody(form, platforms, { logo: logoId, product: productId });
      const answer = await request<{ job_id: string }>('/api/campaigns/plan', { method: 'POST', json: body });
      setJobId(answer.data.job_id);
    } catch (err) {
      fail(err);
    }
  };

  /** The plan and its brand kit are stored: open the campaign. */
  const planned = (w: JobWatch) => {
    const job = w.job;
    setBusy(false);
    if (!job || job.state !== 'succeeded') {
      setError({ fields: {}, general: job?.error ?? `the planner job ${job?.state ?? 'stopped'}` });
      return;
    }
    const campaignId = (job.result as { campaign_id?: string } | null)?.campaign_id;
    if (!campaignId) {
      fail(new Error('the planner finished without naming a campaign'));
      return;
    }
    router.push(`/campaign/?id=${encodeURIComponent(campaignId)}`);
  };

  const toggleReal = (p: string) => {
    setReal((list) => (list.includes(p) ? list.filter((x) => x !== p) : [...list, p]));
    setRehearse(false);
  };
  const toggleRehearse = (on: boolean) => {
    setRehearse(on);
    if (on) setReal([]);
  };
  const fe = error.fields;
  const text = (id: TextKey, label: string, opts: { type?: string; hint?: string; required?: boolean; maxLength?: number; className?: string } = {}) => (
    <Field id={id} label={label} hint={opts.hint} error={fe[id]} className={opts.className}>
      <input
        {...describedBy(id, Boolean(opts.hint), fe[id])}
        name={id}
        type={opts.type ?? 'text'}
        required={opts.required}
        maxLength={opts.maxLength}
        value={form[id]}
        onChange={set(id)}
        className={inputClass}
      />
    </Field>
  );
  const imageInput = (id: 'logo' | 'product_photo', label: string, onFile: (f: File | null) => void) => (
    <Field id={id} label={label} hint={IMAGE_HINT} error={fe[id]}>
      <input
        {...describedBy(id, true, fe[id])}
        name={id}
        type="file"
        accept={IMAGE_TYPES.join(',')}
        onChange={(e) => onFile(e.target.files?.[0] ?? null)}
        className="text-sm"
      />
    </Field>
  );

  return (
    <>
      <PageHeader title="New campaign from a brief" />
      <ErrorBanner error={error.general} />
      <form onSubmit={submit} noValidate aria-describedby="brief-help">
        <p id="brief-help" className="mb-3 text-sm text-slate-700">
          The planner builds the plan (budget split, audiences, concepts and copy) from these facts: names and audiences come from
          what you write here, and every number in it is computed.
        </p>
        <Card title="Brief">
          <div className="grid gap-4 md:grid-cols-2">
            {text('brand', 'Brand', { hint: `The brand name the ads speak for (up to ${BRIEF_LIMITS.brand} characters).`, maxLength: BRIEF_LIMITS.brand })}
            <Field id="objective" label="Goal" error={fe.objective}>
              <select {...describedBy('objective', false, fe.objective)} name="objective" value={form.objective} onChange={set('objective')} className={inputClass}>
                {OBJECTIVES.map((o) => <option key={o} value={o}>{o.replace('_', ' ')}</option>)}
              </select>
            </Field>
            <Field id="product" label="Product" error={fe.product} hint={`What is advertised (1–${BRIEF_LIMITS.product} characters).`} className="md:col-span-2">
              <textarea {...describedBy('product', true, fe.product)} name="product" rows={3} required maxLength={BRIEF_LIMITS.product} value={form.product} onChange={set('product')} className={inputClass} />
            </Field>
            <fieldset className="md:col-span-2" aria-describedby={`benefits-hint${fe.benefits ? ' benefits-error' : ''}`}>
              <legend className="text-sm font-medium text-slate-900">Benefits</legend>
              <p id="benefits-hint" className="text-xs text-slate-600">
                Up to {BRIEF_LIMITS.benefits} short phrases the ads may promise ({BRIEF_LIMITS.benefit[0]}–{BRIEF_LIMITS.benefit[1]} characters each), e.g. “roasted the day it ships”.
              </p>
              <div className="mt-1 grid gap-2 md:grid-cols-3">
                {form.benefits.map((b, i) => {
                  const key = `benefits[${i}]`;
                  const id = `benefit-${i + 1}`;
                  return (
                    <Field key={id} id={id} label={`Benefit ${i + 1}`} error={fe[key]}>
                      <input {...describedBy(id, false, fe[key])} name={id} value={b} maxLength={BRIEF_LIMITS.benefit[1]} onChange={(e) => setBenefit(i, e.target.value)} className={inputClass} />
                    </Field>
                  );
                })}
              </div>
              {fe.benefits ? <p id="benefits-error" role="alert" className="text-sm text-red-800">{fe.benefits}</p> : null}
            </fieldset>
            {text('offer', 'Offer', { hint: `Optional, up to ${BRIEF_LIMITS.offer} characters, e.g. “first bag free”.`, maxLength: BRIEF_LIMITS.offer })}
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
          <fieldset aria-describedby={`platforms-hint${fe.platforms ? ' platforms-error' : ''}`}>
            <legend className="text-sm font-medium">Platforms</legend>
            <div className="mt-1 flex flex-wrap gap-4">
              {REAL_PLATFORMS.map((p) => (
                <label key={p} className="flex items-center gap-2 text-sm">
                  <input type="checkbox" name="platforms" value={p} checked={real.includes(p)} onChange={() => toggleReal(p)} />
                  {p}
                </label>
              ))}
              <label className="flex items-center gap-2 border-l border-slate-300 pl-4 text-sm">
                <input type="checkbox" name="rehearse" checked={rehearse && real.length === 0} onChange={(e) => toggleRehearse(e.target.checked)} data-testid="rehearse-only" />
                Rehearse only (sandbox)
              </label>
            </div>
            <p id="platforms-hint" className="mt-1 text-xs text-slate-600">
              Tick the platforms the plan is for, or “Rehearse only” for a plan with no real platform. Any plan can be rehearsed in the
              sandbox from its deploy page: it simulates every ad set with the full budget and spends nothing.
            </p>
            {fe.platforms ? <p id="platforms-error" role="alert" className="text-sm text-red-800">{fe.platforms}</p> : null}
          </fieldset>
          <div className="mt-4 grid gap-4 md:grid-cols-3">
            <Field id="audience" label="Audience" error={fe.audience} hint={`Who it is for, in your words (up to ${BRIEF_LIMITS.audience} characters).`} className="md:col-span-3">
              <input {...describedBy('audience', true, fe.audience)} name="audience" maxLength={BRIEF_LIMITS.audience} value={form.audience} onChange={set('audience')} className={inputClass} />
            </Field>
            {text('countries', 'Countries', { hint: 'ISO codes, comma-separated (default US).' })}
            {text('age_min', 'Minimum age', { type: 'number', hint: '13 to 65' })}
            {text('age_max', 'Maximum age', { type: 'number', hint: '13 to 65' })}
            {text('interests', 'Interests', {
              hint: `Comma-separated, up to ${BRIEF_LIMITS.interests}, each up to ${BRIEF_LIMITS.interest} characters, e.g. specialty coffee, home barista.`,
              className: 'md:col-span-3',
            })}
          </div>
        </Card>
        <Card title="Brand kit">
          <p className="mb-3 text-sm text-slate-700">Stored with the campaign when it is planned; every creative is rendered with it.</p>
          <div className="grid gap-4 md:grid-cols-3 lg:grid-cols-6">
            {text('primary', 'Primary colour', { type: 'color' })}
            {text('secondary', 'Secondary colour', { type: 'color' })}
            {text('text', 'Text colour', { type: 'color' })}
            <Field id="font" label="Font" error={fe.font}>
              <select {...describedBy('font', false, fe.font)} name="font" value={form.font} onChange={set('font')} className={inputClass}>
                {FONTS.map((f) => <option key={f}>{f}</option>)}
              </select>
            </Field>
            {imageInput('logo', 'Logo', (f) => {
              setLogo(f);
              setUploaded((u) => ({ ...u, logo: null }));
            })}
            {imageInput('product_photo', 'Product photo', (f) => {
              setPhoto(f);
              setUploaded((u) => ({ ...u, product: null }));
            })}
          </div>
          {fe.brand_kit ? <p role="alert" className="mt-2 text-sm text-red-800">{fe.brand_kit}</p> : null}
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
