import type { Metadata } from 'next';
import Mmm from '@/components/pages/Mmm';

export const metadata: Metadata = { title: 'Marketing mix' };

export default function Page() {
  return <Mmm />;
}
