import type { Metadata } from 'next';
import CampaignPlan from '@/components/pages/CampaignPlan';

export const metadata: Metadata = { title: 'Campaign plan' };

export default function Page() {
  return <CampaignPlan />;
}
