import type { Metadata } from 'next';
import Deploy from '@/components/pages/Deploy';

export const metadata: Metadata = { title: 'Deployment' };

export default function Page() {
  return <Deploy />;
}
