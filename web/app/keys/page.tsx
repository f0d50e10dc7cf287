import type { Metadata } from 'next';
import Keys from '@/components/pages/Keys';

export const metadata: Metadata = { title: 'API keys' };

export default function Page() {
  return <Keys />;
}
