'use client';

/** Per-platform and per-creative performance from `GET /api/campaigns/{id}/report`, and its test of the best creative. */

import { labelOf } from '@/lib/creatives';
import { formatCount, formatPercent, formatRoas } from '@/lib/metrics';
import { formatMoney, formatUnits } from '@/lib/money';
import type { Report, ReportTotals } from '@/lib/types';
import { Card, TableWrap, td, tdNum, th } from '../ui';

function Rows({ label, rows, currency }: { label: string; rows: (ReportTotals & { key: string })[]; currency: string }) {
  return (
    <TableWrap label={label}>
      <table className="w-full min-w-[640px] border-collapse">
        <caption className="sr-only">{label}</caption>
        <thead>
          <tr>
            {['', 'Spend', 'Impr.', 'Clicks', 'CTR', 'Conv.', 'CPA', 'Revenue', 'ROAS'].map((h, i) => (
              <th key={h || 'name'} scope="col" className={`${th} ${i ? 'text-right' : ''}`}>{h || label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key} data-testid="report-row">
              <th scope="row" className={`${td} text-left font-medium`}>{r.key}</th>
              <td className={tdNum}>{formatMoney(r.spend_micros, currency)}</td>
              <td className={tdNum}>{formatCount(r.impressions)}</td>
              <td className={tdNum}>{formatCount(r.clicks)}</td>
              <td className={tdNum}>{formatPercent(r.ctr)}</td>
              <td className={tdNum}>{formatCount(r.conversions)}</td>
              <td className={tdNum}>{r.cpa === null ? '—' : formatMoney(Math.round(r.cpa * 1e6), currency)}</td>
              <td className={tdNum}>{formatUnits(r.revenue, currency)}</td>
              <td className={tdNum}>{formatRoas(r.roas)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

export default function ReportPanel({ report, labels }: { report: Report; labels?: Map<string, string> }) {
  const cur = report.currency;
  const best = report.best_vs_rest;
  return (
    <Card title={`Performance${report.days ? ` · ${report.days} days (${report.first_day} to ${report.last_day})` : ''}`}>
      <Rows label="Platform" currency={cur} rows={[{ ...report.totals, key: 'All' }, ...report.platforms.map((p) => ({ ...p, key: p.platform }))]} />
      <h3 className="mb-1 mt-4 text-sm font-semibold">Per creative</h3>
      <Rows label="Creative" currency={cur} rows={report.creatives.map((c) => ({ ...c, key: labelOf(labels, c.creative_id) }))} />
      {best ? (
        <p className="mt-3 rounded bg-slate-100 p-2 text-sm" data-testid="best-vs-rest">
          <span className="font-medium">A/B: </span>
          {best.headline ? (
            <span data-testid="best-headline">{best.headline} </span>
          ) : null}
          <span className="text-slate-700">
            Clicks that convert: {labelOf(labels, best.best_creative_id)} {formatPercent(best.conversion_rate)} against{' '}
            {formatPercent(best.others_conversion_rate)} for the others (z = {best.z.toFixed(2)}, p = {best.p_value.toPrecision(3)};{' '}
            {best.p_value < 0.05 ? 'a significant difference' : 'not significant yet'}). {best.test}.
          </span>
        </p>
      ) : null}
    </Card>
  );
}
