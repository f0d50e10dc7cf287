'use client';

/**
 * Campaigns, like an ads manager: `GET /api/campaigns` (status and platform filters on the
 * server, cursor paging), each row's delivery from `GET /api/campaigns/{id}/report`, sorting
 * and a name filter over the loaded page, and a totals row per currency (money is never summed
 * across currencies).
 */

import Link from 'next/link';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { get, query } from '@/lib/api';
import { useLiveEvents } from '@/lib/events';
import { useApi } from '@/lib/hooks';
import { addTotals, derived, emptyTotals, formatCount, formatPercent, formatRoas, type DeliveryTotals } from '@/lib/metrics';
import { decimalToMicros, formatMoney } from '@/lib/money';
import { CAMPAIGN_STATUSES, PLATFORMS, type Campaign, type CampaignPage, type Report } from '@/lib/types';
import { Button, Empty, PageHeader, StatusBadge, States, TableWrap, inputClass, td, tdLabel, tdNum, th } from '../ui';

type SortKey = 'name' | 'status' | 'budget' | 'spend' | 'impressions' | 'clicks' | 'ctr' | 'conversions' | 'cpa' | 'roas';

interface Row {
  campaign: Campaign;
  budgetMicros: number;
  totals: DeliveryTotals | null;
  reportError: string | null;
}

const REPORT_CONCURRENCY = 4;

function totalsOf(report: Report): DeliveryTotals {
  const t = report.totals;
  return {
    impressions: t.impressions,
    clicks: t.clicks,
    spendMicros: t.spend_micros,
    conversions: t.conversions,
    revenueMicros: decimalToMicros(t.revenue) ?? 0,
  };
}

function sortValue(row: Row, key: SortKey): number | string | null {
  const t = row.totals;
  const d = t ? derived(t) : null;
  switch (key) {
    case 'name':
      return row.campaign.name.toLowerCase();
    case 'status':
      return row.campaign.status;
    case 'budget':
      return row.budgetMicros;
    case 'spend':
      return t?.spendMicros ?? null;
    case 'impressions':
      return t?.impressions ?? null;
    case 'clicks':
      return t?.clicks ?? null;
    case 'conversions':
      return t?.conversions ?? null;
    case 'ctr':
      return d?.ctr ?? null;
    case 'cpa':
      return d?.cpaMicros ?? null;
    case 'roas':
      return d?.roas ?? null;
  }
}

/** Sorted copy; rows without a value go last whatever the direction. */
export function sortRows(rows: Row[], key: SortKey, ascending: boolean): Row[] {
  return [...rows].sort((a, b) => {
    const x = sortValue(a, key);
    const y = sortValue(b, key);
    if (x === null && y === null) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    const c = x < y ? -1 : x > y ? 1 : 0;
    return ascending ? c : -c;
  });
}

const COLUMNS: { key: SortKey; label: string; numeric: boolean }[] = [
  { key: 'name', label: 'Campaign', numeric: false },
  { key: 'status', label: 'Status', numeric: false },
  { key: 'budget', label: 'Daily budget', numeric: true },
  { key: 'spend', label: 'Spend', numeric: true },
  { key: 'impressions', label: 'Impr.', numeric: true },
  { key: 'clicks', label: 'Clicks', numeric: true },
  { key: 'ctr', label: 'CTR', numeric: true },
  { key: 'conversions', label: 'Conv.', numeric: true },
  { key: 'cpa', label: 'CPA', numeric: true },
  { key: 'roas', label: 'ROAS', numeric: true },
];

export default function Campaigns() {
  const [status, setStatus] = useState('');
  const [platform, setPlatform] = useState('');
  const [limit, setLimit] = useState(20);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [search, setSearch] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; ascending: boolean }>({ key: 'spend', ascending: false });
  const [reports, setReports] = useState<Record<string, Report | Error>>({});
  const cursor = cursors[cursors.length - 1];
  const path = `/api/campaigns${query({ status, platform, limit, cursor })}`;
  const page = useApi<CampaignPage>(path);

  const loadReports = useCallback(async (ids: string[]) => {
    const queue = [...ids];
    const worker = async () => {
      for (let id = queue.shift(); id; id = queue.shift()) {
        try {
          const r = await get<Report>(`/api/campaigns/${encodeURIComponent(id)}/report`);
          setReports((m) => ({ ...m, [id]: r }));
        } catch (e) {
          setReports((m) => ({ ...m, [id]: e as Error }));
        }
      }
    };
    await Promise.all(Array.from({ length: REPORT_CONCURRENCY }, worker));
  }, []);

  useEffect(() => {
    if (page.data) void loadReports(page.data.campaigns.map((c) => c.id));
  }, [page.data, loadReports]);

  useLiveEvents(['metrics.synced', 'action.applied'], (e) => {
    const id = e.data.campaign_id;
    if (typeof id === 'string' && page.data?.campaigns.some((c) => c.id === id)) void loadReports([id]);
  });
  useLiveEvents(['campaign.planned'], () => page.reload());

  const resetPaging = () => setCursors([null]);

  const rows: Row[] = useMemo(() => {
    const list = page.data?.campaigns ?? [];
    const needle = search.trim().toLowerCase();
    return list
      .filter((c) => !needle || c.name.toLowerCase().includes(needle))
      .map((c) => {
        const r = reports[c.id];
        return {
          campaign: c,
          budgetMicros: decimalToMicros(c.daily_budget) ?? 0,
          totals: r && !(r instanceof Error) ? totalsOf(r) : null,
          reportError: r instanceof Error ? r.message : null,
        };
      });
  }, [page.data, reports, search]);

  const sorted = useMemo(() => sortRows(rows, sort.key, sort.ascending), [rows, sort]);

  /** One totals row per currency. */
  const totals = useMemo(() => {
    const by = new Map<string, { budget: number; t: DeliveryTotals; n: number }>();
    for (const row of rows) {
      const cur = row.campaign.currency;
      const entry = by.get(cur) ?? { budget: 0, t: emptyTotals(), n: 0 };
      entry.budget += row.budgetMicros;
      entry.n += 1;
      if (row.totals) addTotals(entry.t, row.totals);
      by.set(cur, entry);
    }
    return [...by.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [rows]);

  const toggleSort = (key: SortKey) =>
    setSort((s) => (s.key === key ? { key, ascending: !s.ascending } : { key, ascending: key === 'name' || key === 'status' }));

  return (
    <>
      <PageHeader title="Campaigns">
        <Link href="/new/" className="rounded bg-blue-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-blue-800">
          New campaign
        </Link>
      </PageHeader>
      <form className="mb-3 flex flex-wrap items-end gap-3" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label className="flex flex-col text-sm">
          <span className="font-medium">Status</span>
          <select className={inputClass} value={status} onChange={(e) => { setStatus(e.target.value); resetPaging(); }}>
            <option value="">All</option>
            {CAMPAIGN_STATUSES.map((s) => <option key={s}>{s}</option>)}
          </select>
        </label>
        <label className="flex flex-col text-sm">
          <span className="font-medium">Platform</span>
          <select className={inputClass} value={platform} onChange={(e) => { setPlatform(e.target.value); resetPaging(); }}>
            <option value="">All</option>
            {PLATFORMS.map((p) => <option key={p}>{p}</option>)}
          </select>
        </label>
        <label className="flex flex-col text-sm">
          <span className="font-medium">Per page</span>
          <select className={inputClass} value={limit} onChange={(e) => { setLimit(Number(e.target.value)); resetPaging(); }}>
            {[20, 50, 100].map((n) => <option key={n}>{n}</option>)}
          </select>
        </label>
        <label className="flex grow flex-col text-sm sm:grow-0">
          <span className="font-medium">Name contains</span>
          <input className={inputClass} type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </label>
      </form>
      <States
        loading={page.loading && !page.data}
        error={page.error}
        onRetry={page.reload}
        empty={
          page.data && page.data.campaigns.length === 0 ? (
            <Empty title="No campaigns here yet">
              <Link className="text-blue-800 underline" href="/new/">Plan one from a brief</Link>
              {status || platform ? ' or clear the filters.' : '.'}
            </Empty>
          ) : false
        }
      >
        <TableWrap label="Campaigns">
          <table className="w-full min-w-[900px] border-collapse bg-white">
            <caption className="sr-only">Campaigns with delivery to date; sorted by {sort.key}</caption>
            <thead>
              <tr>
                {COLUMNS.map((c) => (
                  <th
                    key={c.key}
                    scope="col"
                    className={`${th} ${c.numeric ? 'text-right' : ''}`}
                    aria-sort={sort.key === c.key ? (sort.ascending ? 'ascending' : 'descending') : 'none'}
                  >
                    <button type="button" className="uppercase hover:underline" onClick={() => toggleSort(c.key)}>
                      {c.label}
                      <span aria-hidden="true">{sort.key === c.key ? (sort.ascending ? ' ▲' : ' ▼') : ''}</span>
                    </button>
                  </th>
                ))}
                <th scope="col" className={th}>Platforms</th>
              </tr>
            </thead>
            <tbody>
              {sorted.map(({ campaign: c, budgetMicros, totals: t, reportError }) => {
                const d = t ? derived(t) : null;
                const money = (m: number | null | undefined) => formatMoney(m, c.currency);
                return (
                  <tr key={c.id} className="hover:bg-slate-50">
                    <td className={td}>
                      <Link href={`/campaign/?id=${encodeURIComponent(c.id)}`} className="font-medium text-blue-800 underline-offset-2 hover:underline">
                        {c.name}
                      </Link>
                      <div className="text-xs text-slate-600">
                        {c.objective} · <span className="whitespace-nowrap">{c.start_date}</span>
                        {c.end_date ? <> → <span className="whitespace-nowrap">{c.end_date}</span></> : null}
                      </div>
                    </td>
                    <td className={tdLabel}><StatusBadge status={c.status} /></td>
                    <td className={tdNum}>{money(budgetMicros)}</td>
                    {t ? (
                      <>
                        <td className={tdNum}>{money(t.spendMicros)}</td>
                        <td className={tdNum}>{formatCount(t.impressions)}</td>
                        <td className={tdNum}>{formatCount(t.clicks)}</td>
                        <td className={tdNum}>{formatPercent(d!.ctr)}</td>
                        <td className={tdNum}>{formatCount(t.conversions)}</td>
                        <td className={tdNum}>{money(d!.cpaMicros)}</td>
                        <td className={tdNum}>{formatRoas(d!.roas)}</td>
                      </>
                    ) : (
                      <td className={`${td} text-slate-600`} colSpan={7}>
                        {reportError ? `Report unavailable: ${reportError}` : 'Loading delivery…'}
                      </td>
                    )}
                    <td className={tdLabel}>{c.platforms.join(', ')}</td>
                  </tr>
                );
              })}
            </tbody>
            <tfoot>
              {totals.map(([currency, { budget, t, n }]) => {
                const d = derived(t);
                const money = (m: number | null) => formatMoney(m, currency);
                return (
                  <tr key={currency} className="bg-slate-100 font-semibold">
                    <th scope="row" className={`${td} text-left`} colSpan={2}>
                      Total {currency} ({n} campaign{n === 1 ? '' : 's'})
                    </th>
                    <td className={tdNum}>{money(budget)}</td>
                    <td className={tdNum}>{money(t.spendMicros)}</td>
                    <td className={tdNum}>{formatCount(t.impressions)}</td>
                    <td className={tdNum}>{formatCount(t.clicks)}</td>
                    <td className={tdNum}>{formatPercent(d.ctr)}</td>
                    <td className={tdNum}>{formatCount(t.conversions)}</td>
                    <td className={tdNum}>{money(d.cpaMicros)}</td>
                    <td className={tdNum}>{formatRoas(d.roas)}</td>
                    <td className={td} />
                  </tr>
                );
              })}
            </tfoot>
          </table>
        </TableWrap>
        <nav aria-label="Pages" className="mt-3 flex items-center gap-2">
          <Button variant="secondary" disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
            Previous page
          </Button>
          <span className="text-sm text-slate-700">Page {cursors.length}</span>
          <Button
            variant="secondary"
            disabled={!page.data?.next_cursor}
            onClick={() => page.data?.next_cursor && setCursors((c) => [...c, page.data!.next_cursor])}
          >
            Next page
          </Button>
        </nav>
        <p className="mt-2 text-xs text-slate-600">
          Sorting and the name filter apply to the loaded page; status and platform filter on the server.
        </p>
      </States>
    </>
  );
}
