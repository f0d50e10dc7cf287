'use client';

/**
 * The frame of every page: a skip link, the header with navigation and the live-update state,
 * and the signed-in check (`GET /api/users/me`; a 401 anywhere sends the user to sign-in).
 */

import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { get, post, setUnauthorizedListener } from '@/lib/api';
import { EventsProvider, useLiveState } from '@/lib/events';
import type { MeView } from '@/lib/types';
import { Button, Loading } from './ui';

const NAV = [
  { href: '/', label: 'Campaigns' },
  { href: '/new/', label: 'New campaign' },
  { href: '/jobs/', label: 'Jobs' },
  { href: '/mmm/', label: 'Marketing mix' },
  { href: '/connections/', label: 'Connections' },
  { href: '/models/', label: 'Models' },
  { href: '/keys/', label: 'API keys' },
];

const MeContext = createContext<MeView | null>(null);

/** Who is signed in (null on the sign-in page). */
export function useMe(): MeView | null {
  return useContext(MeContext);
}

function LiveIndicator() {
  const state = useLiveState();
  const text = { open: 'Live', connecting: 'Connecting', reconnecting: 'Reconnecting', off: 'Offline' }[state];
  const dot = state === 'open' ? 'bg-green-600' : state === 'off' ? 'bg-slate-500' : 'bg-amber-500';
  return (
    <span className="flex items-center gap-1 text-xs text-slate-200" role="status" aria-live="polite">
      <span aria-hidden="true" className={`inline-block h-2 w-2 rounded-full ${dot}`} />
      {text}
    </span>
  );
}

function isActive(pathname: string, href: string): boolean {
  if (href === '/') return pathname === '/' || pathname.startsWith('/campaign');
  return pathname.startsWith(href);
}

export default function AppShell({ children }: { children: ReactNode }) {
  const pathname = usePathname() ?? '/';
  const onSignIn = pathname.startsWith('/signin');
  const [me, setMe] = useState<MeView | null>(null);
  const [checked, setChecked] = useState(false);
  const [signingOut, setSigningOut] = useState(false);

  useEffect(() => {
    const toSignIn = () => {
      const here = window.location.pathname + window.location.search;
      window.location.assign(`/signin/?next=${encodeURIComponent(here)}`);
    };
    setUnauthorizedListener(onSignIn ? null : toSignIn);
    return () => setUnauthorizedListener(null);
  }, [onSignIn]);

  useEffect(() => {
    if (onSignIn) {
      setChecked(true);
      return;
    }
    let cancelled = false;
    get<MeView>('/api/users/me')
      .then((m) => {
        if (!cancelled) setMe(m);
      })
      .catch(() => {
        // A 401 already sent the user to sign-in; other errors show on the page's own calls.
      })
      .finally(() => {
        if (!cancelled) setChecked(true);
      });
    return () => {
      cancelled = true;
    };
  }, [onSignIn]);

  const signOut = async () => {
    setSigningOut(true);
    try {
      await post('/api/auth/logout');
    } catch {
      // Signed out or not, the next page asks again.
    }
    window.location.assign('/signin/');
  };

  return (
    <MeContext.Provider value={me}>
      <EventsProvider enabled={!onSignIn && me !== null}>
        <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:p-2 focus:text-blue-800">
          Skip to content
        </a>
        <header className="bg-slate-900 text-white">
          <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-x-4 gap-y-2 px-3 py-2">
            <Link href="/" className="text-lg font-semibold text-white">
              adforge
            </Link>
            {!onSignIn ? (
              <nav aria-label="Main" className="order-3 w-full overflow-x-auto sm:order-none sm:w-auto">
                <ul className="flex gap-1 whitespace-nowrap">
                  {NAV.map((item) => (
                    <li key={item.href}>
                      <Link
                        href={item.href}
                        aria-current={isActive(pathname, item.href) ? 'page' : undefined}
                        className="block rounded px-2 py-1 text-sm text-slate-100 hover:bg-slate-700 aria-[current=page]:bg-slate-700 aria-[current=page]:font-semibold"
                      >
                        {item.label}
                      </Link>
                    </li>
                  ))}
                </ul>
              </nav>
            ) : null}
            {!onSignIn ? (
              <div className="ml-auto flex items-center gap-3">
                <LiveIndicator />
                {me?.user ? <span className="hidden text-xs text-slate-200 md:inline">{me.user.email}</span> : null}
                <Button variant="secondary" onClick={signOut} busy={signingOut} className="!min-h-8 !py-1">
                  Sign out
                </Button>
              </div>
            ) : null}
          </div>
        </header>
        <main id="main" className="mx-auto max-w-7xl px-3 py-4">
          {checked || onSignIn ? children : <Loading label="Checking your session…" />}
        </main>
      </EventsProvider>
    </MeContext.Provider>
  );
}
