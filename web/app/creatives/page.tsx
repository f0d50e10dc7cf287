import type { Metadata } from 'next';
import Creatives from '@/components/pages/Creatives';

export const metadata: Metadata = { title: 'Creative review' };

export default function Page() {
  return <Creatives />;
}
