import type { Metadata } from 'next';
import NewCampaign from '@/components/pages/NewCampaign';

export const metadata: Metadata = { title: 'New campaign' };

export default function Page() {
  return <NewCampaign />;
}
