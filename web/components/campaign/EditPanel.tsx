'use client';

/**
 * Edits and approval of a campaign: `PATCH /api/campaigns/{id}` with `If-Match` (the version
 * read), so another editor's change is never overwritten (412 says so). Approving a drafted
 * plan makes the campaign active.
 */

import { useState, type FormEvent } from 'react';
import { request } from '@/lib/api';
import { placeError, type PlacedError } from '@/lib/forms';
import type { Campaign } from '@/lib/types';
import { Button, Card, ErrorBanner, Field, describedBy, inputClass } from '../ui';

const FIELDS = ['name', 'end_date', 'daily_budget', 'brief', 'status'] as const;

export default function EditPanel({ campaign, etag, onSaved }: { campaign: Campaign; etag: string; onSaved: () => void }) {
  const brief = (campaign.brief ?? {}) as Record<string, unknown>;
  const [name, setName] = useState(campaign.name);
  const [endDate, setEndDate] = useState(campaign.end_date ?? '');
  const [budget, setBudget] = useState(campaign.daily_budget);
  const [landing, setLanding] = useState(String(brief.landing_url ?? ''));
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<PlacedError>({ fields: {}, general: null });

  const patch = async (label: string, body: Record<string, unknown>) => {
    setBusy(label);
    setError({ fields: {}, general: null });
    try {
      await request(`/api/campaigns/${encodeURIComponent(campaign.id)}`, { method: 'PATCH', json: body, headers: { 'If-Match': etag } });
      onSaved();
    } catch (e) {
      setError(placeError(e, FIELDS));
    } finally {
      setBusy(null);
    }
  };

  const save = (e: FormEvent) => {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    if (name !== campaign.name) body.name = name;
    if (endDate && endDate !== campaign.end_date) body.end_date = endDate;
    if (budget !== campaign.daily_budget) body.daily_budget = budget;
    if (landing !== String(brief.landing_url ?? '')) body.brief = { ...brief, landing_url: landing };
    if (Object.keys(body).length === 0) return;
    void patch('save', body);
  };

  const fe = error.fields;
  return (
    <Card
      title="Review and approve"
      actions={
        campaign.status === 'draft' ? (
          <Button onClick={() => patch('approve', { status: 'active' })} busy={busy === 'approve'} data-testid="approve-plan">
            Approve plan
          </Button>
        ) : campaign.status === 'active' ? (
          <Button variant="secondary" onClick={() => patch('pause', { status: 'paused' })} busy={busy === 'pause'}>
            Pause campaign
          </Button>
        ) : campaign.status === 'paused' ? (
          <Button onClick={() => patch('resume', { status: 'active' })} busy={busy === 'resume'}>
            Resume campaign
          </Button>
        ) : null
      }
    >
      <ErrorBanner error={error.general ?? fe.status} />
      <form onSubmit={save} className="grid gap-4 md:grid-cols-4" noValidate>
        <Field id="name" label="Name" error={fe.name}>
          <input {...describedBy('name', false, fe.name)} value={name} onChange={(e) => setName(e.target.value)} className={inputClass} />
        </Field>
        <Field id="daily_budget" label={`Daily budget (${campaign.currency})`} error={fe.daily_budget}>
          <input {...describedBy('daily_budget', false, fe.daily_budget)} value={budget} onChange={(e) => setBudget(e.target.value)} className={inputClass} inputMode="decimal" />
        </Field>
        <Field id="end_date" label="End date" error={fe.end_date}>
          <input {...describedBy('end_date', false, fe.end_date)} type="date" value={endDate} onChange={(e) => setEndDate(e.target.value)} className={inputClass} />
        </Field>
        <Field id="landing" label="Landing page" error={fe.brief}>
          <input {...describedBy('landing', false, fe.brief)} type="url" value={landing} onChange={(e) => setLanding(e.target.value)} className={inputClass} />
        </Field>
        <div className="md:col-span-4">
          <Button type="submit" variant="secondary" busy={busy === 'save'}>
            Save changes
          </Button>
        </div>
      </form>
    </Card>
  );
}
