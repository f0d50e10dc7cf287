'use client';

/** Campaign analytics: metrics over time, per-creative performance, experiments, the optimizer. */

import { useCallback, useEffect, useState } from 'react';
import { get, query } from '@/lib/api';
import { creativeLabels } from '@/lib/creatives';
import { useLiveEvents } from '@/lib/events';
import { useApi } from '@/lib/hooks';
import type { Campaign, CampaignExperiments, Creative, MetricRow, Report } from '@/lib/types';
import CampaignFrame from '../CampaignFrame';
import ExperimentsPanel from '../analytics/ExperimentsPanel';
import MetricsPanel from '../analytics/MetricsPanel';
import OptimizerPanel from '../analytics/OptimizerPanel';
import ReportPanel from '../analytics/ReportPanel';
import { ErrorBanner, Loading } from '../ui';

const MAX_METRIC_PAGES = 20;

/** Every metric row of a campaign, page by page (1000 a page). */
async function allMetrics(campaignId: string): Promise<MetricRow[]> {
  const rows: MetricRow[] = [];
  let offset: number | null = 0;
  for (let i = 0; i < MAX_METRIC_PAGES && offset !== null; i++) {
    const page: { rows: MetricRow[]; next_offset: number | null } = await get(`/api/metrics${query({ campaign_id: campaignId, limit: 1000, offset })}`);
    rows.push(...page.rows);
    offset = page.next_offset;
  }
  return rows;
}

/** Every creative of a campaign (for their names), page by page; none where the listing fails. */
async function allCreatives(campaignId: string): Promise<Creative[]> {
  const out: Creative[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < MAX_METRIC_PAGES; i++) {
    const page: { creatives: Creative[]; next_cursor?: string | null } = await get(`/api/creatives${query({ campaign_id: campaignId, limit: 100, cursor })}`);
    out.push(...page.creatives);
    cursor = page.next_cursor ?? null;
    if (!cursor) break;
  }
  return out;
}

function AnalyticsBody({ campaign }: { campaign: Campaign }) {
  const id = encodeURIComponent(campaign.id);
  const report = useApi<Report>(`/api/campaigns/${id}/report`);
  const experiments = useApi<CampaignExperiments>(`/api/analytics/campaigns/${id}`);
  const [rows, setRows] = useState<MetricRow[] | null>(null);
  const [rowsError, setRowsError] = useState<unknown>(null);
  const loadRows = useCallback(() => {
    allMetrics(campaign.id).then(
      (r) => {
        setRows(r);
        setRowsError(null);
      },
      (e) => setRowsError(e),
    );
  }, [campaign.id]);
  useEffect(loadRows, [loadRows]);
  const [labels, setLabels] = useState<Map<string, string>>(new Map());
  const loadLabels = useCallback(() => {
    // Names only: where the listing fails, rows keep their short ids.
    allCreatives(campaign.id).then((list) => setLabels(creativeLabels(list)), () => undefined);
  }, [campaign.id]);
  useEffect(loadLabels, [loadLabels]);
  useLiveEvents(['creatives.generated'], (e) => {
    if (e.data.campaign_id === campaign.id) loadLabels();
  });
  useLiveEvents(['metrics.synced'], (e) => {
    if (e.data.campaign_id === campaign.id) {
      loadRows();
      report.reload();
    }
  });

  return (
    <>
      <ErrorBanner error={rowsError} onRetry={loadRows} />
      {rows ? <MetricsPanel rows={rows} currency={campaign.currency} labels={labels} /> : !rowsError ? <Loading label="Loading metrics…" /> : null}
      {report.error ? <ErrorBanner error={report.error} onRetry={report.reload} /> : report.data ? <ReportPanel report={report.data} labels={labels} /> : <Loading label="Loading the report…" />}
      <ExperimentsPanel
        campaignId={campaign.id}
        platforms={campaign.platforms}
        data={experiments.data}
        error={experiments.error}
        loading={experiments.loading}
        rows={rows ?? []}
        onRecorded={experiments.reload}
        labels={labels}
      />
      <OptimizerPanel campaignId={campaign.id} currency={campaign.currency} labels={labels} />
    </>
  );
}

export default function Analytics() {
  return <CampaignFrame>{({ campaign }) => <AnalyticsBody campaign={campaign} />}</CampaignFrame>;
}
