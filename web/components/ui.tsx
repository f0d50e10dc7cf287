'use client';

/** Small building blocks shared by every page: buttons, fields with their API error, states. */

import type { ButtonHTMLAttributes, ReactNode } from 'react';
import { ApiError } from '@/lib/api';

type Variant = 'primary' | 'secondary' | 'danger' | 'ghost';

const VARIANTS: Record<Variant, string> = {
  primary: 'bg-blue-700 text-white hover:bg-blue-800 disabled:bg-slate-400',
  secondary: 'border border-slate-500 bg-white text-slate-900 hover:bg-slate-100 disabled:text-slate-500',
  danger: 'bg-red-700 text-white hover:bg-red-800 disabled:bg-slate-400',
  ghost: 'text-blue-800 underline-offset-2 hover:underline disabled:text-slate-500',
};

export function Button({
  variant = 'primary',
  busy = false,
  className = '',
  children,
  ...rest
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant; busy?: boolean }) {
  return (
    <button
      type="button"
      {...rest}
      disabled={rest.disabled || busy}
      aria-busy={busy || undefined}
      className={`inline-flex min-h-9 items-center justify-center gap-1 rounded px-3 py-1.5 text-sm font-medium disabled:cursor-not-allowed ${VARIANTS[variant]} ${className}`}
    >
      {busy ? <span aria-hidden="true" className="inline-block h-3 w-3 animate-spin rounded-full border-2 border-current border-t-transparent" /> : null}
      {children}
    </button>
  );
}

/** A labelled control with its hint and the API error that names it. */
export function Field({
  id,
  label,
  hint,
  error,
  children,
  className = '',
}: {
  id: string;
  label: ReactNode;
  hint?: ReactNode;
  error?: string | null;
  children: ReactNode;
  className?: string;
}) {
  return (
    <div className={`flex flex-col gap-1 ${className}`}>
      <label htmlFor={id} className="text-sm font-medium text-slate-900">
        {label}
      </label>
      {children}
      {hint ? (
        <p id={`${id}-hint`} className="text-xs text-slate-600">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} role="alert" className="text-sm text-red-800">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** Props that tie an input to its Field's hint and error for screen readers. */
export function describedBy(id: string, hint: boolean, error: string | null | undefined) {
  const ids = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean);
  return {
    id,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': ids.length ? ids.join(' ') : undefined,
  } as const;
}

export const inputClass =
  'w-full rounded border border-slate-500 bg-white px-2 py-1.5 text-sm text-slate-900 aria-[invalid=true]:border-red-700';

/** An error for the whole page or form (errors that name a field show at the field instead). */
export function ErrorBanner({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const status = error instanceof ApiError && error.status ? ` (${error.status} ${error.code})` : '';
  return (
    <div role="alert" className="my-3 flex flex-wrap items-center gap-3 rounded border border-red-300 bg-red-50 p-3 text-sm text-red-900">
      <span>
        {message}
        <span className="text-red-800">{status}</span>
      </span>
      {onRetry ? (
        <Button variant="secondary" onClick={onRetry}>
          Retry
        </Button>
      ) : null}
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p role="status" className="my-4 text-sm text-slate-700">
      <span aria-hidden="true" className="mr-2 inline-block h-3 w-3 animate-spin rounded-full border-2 border-slate-600 border-t-transparent align-middle" />
      {label}
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="my-4 rounded border border-dashed border-slate-400 p-6 text-center">
      <p className="font-medium text-slate-900">{title}</p>
      {children ? <div className="mt-2 text-sm text-slate-700">{children}</div> : null}
    </div>
  );
}

/** Loading, error and empty states around content. */
export function States({
  loading,
  error,
  empty,
  onRetry,
  children,
}: {
  loading: boolean;
  error: unknown;
  empty?: ReactNode | false;
  onRetry?: () => void;
  children: ReactNode;
}) {
  if (error) return <ErrorBanner error={error} onRetry={onRetry} />;
  if (loading) return <Loading />;
  if (empty) return <>{empty}</>;
  return <>{children}</>;
}

const BADGE: Record<string, string> = {
  active: 'bg-green-100 text-green-900',
  succeeded: 'bg-green-100 text-green-900',
  applied: 'bg-green-100 text-green-900',
  ready: 'bg-green-100 text-green-900',
  approved: 'bg-green-100 text-green-900',
  running: 'bg-blue-100 text-blue-900',
  pending: 'bg-blue-100 text-blue-900',
  deploying: 'bg-blue-100 text-blue-900',
  rendering: 'bg-blue-100 text-blue-900',
  queued: 'bg-slate-200 text-slate-900',
  draft: 'bg-slate-200 text-slate-900',
  proposed: 'bg-amber-100 text-amber-900',
  paused: 'bg-amber-100 text-amber-900',
  failed: 'bg-red-100 text-red-900',
  rejected: 'bg-red-100 text-red-900',
  cancelled: 'bg-slate-200 text-slate-800',
  archived: 'bg-slate-200 text-slate-800',
  ended: 'bg-slate-200 text-slate-800',
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span data-status={status} className={`inline-block whitespace-nowrap rounded px-2 py-0.5 text-xs font-medium ${BADGE[status] ?? 'bg-slate-200 text-slate-900'}`}>
      {status}
    </span>
  );
}

export function ProgressBar({ value, label }: { value: number; label: string }) {
  const pct = Math.round(Math.max(0, Math.min(1, value)) * 100);
  return (
    <div className="flex items-center gap-2">
      <div
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
        className="h-2 w-full min-w-16 overflow-hidden rounded bg-slate-200"
      >
        <div className="h-full bg-blue-700 transition-[width]" style={{ width: `${pct}%` }} />
      </div>
      <span className="w-10 text-right text-xs tabular-nums text-slate-700">{pct}%</span>
    </div>
  );
}

export function PageHeader({ title, children }: { title: ReactNode; children?: ReactNode }) {
  return (
    <div className="mb-4 flex flex-wrap items-center justify-between gap-3">
      <h1 className="text-xl font-semibold text-slate-900">{title}</h1>
      {children ? <div className="flex flex-wrap gap-2">{children}</div> : null}
    </div>
  );
}

export function Card({ title, children, actions }: { title?: ReactNode; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="mb-4 min-w-0 rounded border border-slate-300 bg-white p-4">
      {title || actions ? (
        <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
          {title ? <h2 className="text-base font-semibold text-slate-900">{title}</h2> : <span />}
          {actions ? <div className="flex flex-wrap gap-2">{actions}</div> : null}
        </div>
      ) : null}
      {children}
    </section>
  );
}

/** A table that scrolls sideways on narrow screens instead of overflowing the page. */
export function TableWrap({ children, label }: { children: ReactNode; label: string }) {
  return (
    <div className="relative overflow-x-auto" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

/**
 * Table cells. Headers, numbers, money and statuses never wrap (a table scrolls sideways in
 * its TableWrap instead); names wrap between words only.
 */
export const th = 'whitespace-nowrap border-b border-slate-300 px-2 py-1.5 text-left text-xs font-semibold uppercase tracking-wide text-slate-700';
export const td = 'border-b border-slate-200 px-2 py-1.5 text-sm text-slate-900';
export const tdNum = `${td} whitespace-nowrap text-right tabular-nums`;
/** A short label cell (platform, kind, status): one line. */
export const tdLabel = `${td} whitespace-nowrap`;

export function shortId(id: string | null | undefined): string {
  if (!id) return '—';
  return id.length > 13 ? `${id.slice(0, 8)}…` : id;
}

export function formatTime(ms: number | string | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '—';
  return d.toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short' });
}
