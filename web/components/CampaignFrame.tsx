'use client';

/**
 * The frame of a campaign's pages (`?id=` in the query string: the export has no dynamic
 * routes): the campaign from `GET /api/campaigns/{id}` with its ETag, its header, and the tabs.
 */

import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { request } from '@/lib/api';
import { useQueryParam } from '@/lib/hooks';
import { decimalToMicros, formatMoney } from '@/lib/money';
import type { Campaign } from '@/lib/types';
import { ErrorBanner, Loading, StatusBadge } from './ui';

export interface CampaignContext {
  campaign: Campaign;
  /** The ETag of the read, for `If-Match`. */
  etag: string;
  reload: () => void;
}

const TABS = [
  { href: '/campaign/', label: 'Plan' },
  { href: '/creatives/', label: 'Creatives' },
  { href: '/deploy/', label: 'Deployment' },
  { href: '/analytics/', label: 'Analytics' },
];

export default function CampaignFrame({ children }: { children: (ctx: CampaignContext) => ReactNode }) {
  const id = useQueryParam('id');
  const pathname = usePathname() ?? '';
  const [ctx, setCtx] = useState<{ campaign: Campaign; etag: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    if (!id) return;
    let cancelled = false;
    request<Campaign>(`/api/campaigns/${encodeURIComponent(id)}`)
      .then((r) => {
        if (cancelled) return;
        setCtx({ campaign: r.data, etag: r.headers.get('etag') ?? `"${r.data.version}"` });
        setError(null);
      })
      .catch((e) => !cancelled && setError(e));
    return () => {
      cancelled = true;
    };
  }, [id, tick]);

  if (id === undefined) return <Loading />;
  if (id === null) return <ErrorBanner error="This page needs a campaign: open one from the campaign list." />;
  if (error && !ctx) return <ErrorBanner error={error} onRetry={reload} />;
  if (!ctx) return <Loading label="Loading the campaign…" />;
  const c = ctx.campaign;
  return (
    <>
      <div className="mb-3">
        <p className="text-sm">
          <Link href="/" className="text-blue-800 underline">Campaigns</Link> <span aria-hidden="true">›</span>
        </p>
        <div className="flex flex-wrap items-center gap-3">
          <h1 className="text-xl font-semibold" data-testid="campaign-name">{c.name}</h1>
          <span data-testid="campaign-state"><StatusBadge status={c.status} /></span>
        </div>
        <p className="text-sm text-slate-700">
          {c.objective} · {formatMoney(decimalToMicros(c.daily_budget), c.currency)} a day · {c.start_date}
          {c.end_date ? ` → ${c.end_date}` : ''} · {c.platforms.join(', ')}
        </p>
      </div>
      <nav aria-label="Campaign" className="mb-4 overflow-x-auto border-b border-slate-300">
        <ul className="flex gap-1 whitespace-nowrap">
          {TABS.map((t) => (
            <li key={t.href}>
              <Link
                href={`${t.href}?id=${encodeURIComponent(c.id)}`}
                aria-current={pathname.startsWith(t.href) ? 'page' : undefined}
                className="block border-b-2 border-transparent px-3 py-2 text-sm text-slate-800 hover:border-slate-400 aria-[current=page]:border-blue-700 aria-[current=page]:font-semibold aria-[current=page]:text-blue-900"
              >
                {t.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <ErrorBanner error={error} />
      {children({ campaign: c, etag: ctx.etag, reload })}
    </>
  );
}
