import type { Metadata } from 'next';
import Connections from '@/components/pages/Connections';

export const metadata: Metadata = { title: 'Connections' };

export default function Page() {
  return <Connections />;
}
