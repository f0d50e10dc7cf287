import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';
import AppShell from '@/components/AppShell';
import './globals.css';

export const metadata: Metadata = {
  title: { default: 'adforge', template: '%s · adforge' },
  description: 'Creatives and ad campaigns: plan, generate, deploy, measure.',
};

export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-screen font-sans antialiased">
        <AppShell>{children}</AppShell>
      </body>
    </html>
  );
}
