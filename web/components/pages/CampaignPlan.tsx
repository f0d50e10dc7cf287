'use client';

/** A campaign's plan page: the plan and ad sets, edits and approval, generation, the agent trace. */

import { ApiError } from '@/lib/api';
import { useLiveEvents } from '@/lib/events';
import { useApi } from '@/lib/hooks';
import type { AgentRun, Campaign, PlanView as PlanData } from '@/lib/types';
import CampaignFrame from '../CampaignFrame';
import EditPanel from '../campaign/EditPanel';
import GeneratePanel from '../campaign/GeneratePanel';
import PlanView from '../campaign/PlanView';
import TraceView from '../campaign/TraceView';
import { Empty, States } from '../ui';

function PlanSection({ campaign, etag, reload }: { campaign: Campaign; etag: string; reload: () => void }) {
  const id = encodeURIComponent(campaign.id);
  const plan = useApi<PlanData>(`/api/campaigns/${id}/plan`);
  const runs = useApi<{ runs: AgentRun[] }>(`/api/campaigns/${id}/runs`);
  useLiveEvents(['action.applied', 'campaign.planned'], (e) => {
    if (e.data.campaign_id === campaign.id) {
      plan.reload();
      runs.reload();
    }
  });
  const noPlan = plan.error instanceof ApiError && plan.error.status === 404 && !plan.error.isMissingRoute;
  return (
    <>
      <EditPanel key={campaign.version} campaign={campaign} etag={etag} onSaved={reload} />
      {noPlan ? (
        <Empty title="This campaign was not planned">It was created directly; its ad sets and creatives come from the API.</Empty>
      ) : (
        <States loading={plan.loading && !plan.data} error={plan.error} onRetry={plan.reload}>
          {plan.data ? <PlanView campaign={campaign} data={plan.data} /> : null}
        </States>
      )}
      <GeneratePanel campaign={campaign} />
      <States loading={runs.loading && !runs.data} error={runs.error} onRetry={runs.reload}>
        <TraceView runs={runs.data?.runs ?? []} />
      </States>
    </>
  );
}

export default function CampaignPlan() {
  return <CampaignFrame>{(ctx) => <PlanSection {...ctx} />}</CampaignFrame>;
}
