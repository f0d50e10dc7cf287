'use client';

/** Campaign analytics: metrics over time, per-creative performance, experiments, the optimizer. */

import { useCallback, useEffect, useState } from 'react';
import { get, query } from '@/lib/api';
import { useLiveEvents } from '@/lib/events';
import { useApi } from '@/lib/hooks';
import type { Campaign, CampaignExperiments, MetricRow, Report } from '@/lib/types';
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
  useLiveEvents(['metrics.synced'], (e) => {
    if (e.data.campaign_id === campaign.id) {
      loadRows();
      report.reload();
    }
  });

  return (
    <>
      <ErrorBanner error={rowsError} onRetry={loadRows} />
      {rows ? <MetricsPanel rows={rows} currency={campaign.currency} /> : !rowsError ? <Loading label="Loading metrics…" /> : null}
      {report.error ? <ErrorBanner error={report.error} onRetry={report.reload} /> : report.data ? <ReportPanel report={report.data} /> : <Loading label="Loading the report…" />}
      <ExperimentsPanel
        campaignId={campaign.id}
        platforms={campaign.platforms}
        data={experiments.data}
        error={experiments.error}
        loading={experiments.loading}
        rows={rows ?? []}
        onRecorded={experiments.reload}
      />
      <OptimizerPanel campaignId={campaign.id} currency={campaign.currency} />
    </>
  );
}

export default function Analytics() {
  return <CampaignFrame>{({ campaign }) => <AnalyticsBody campaign={campaign} />}</CampaignFrame>;
}
