import type { Metadata } from 'next';
import Analytics from '@/components/pages/Analytics';

export const metadata: Metadata = { title: 'Campaign analytics' };

export default function Page() {
  return <Analytics />;
}
