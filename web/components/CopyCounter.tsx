'use client';

/** A copy field's text with its character count against the platform's limit. */

import { checkCopy, FIELD_LABELS, type CopyField } from '@/lib/copyLimits';

const STATE_CLASS = {
  ok: 'text-slate-700',
  near: 'text-amber-900',
  over: 'text-red-800 font-semibold',
  under: 'text-red-800 font-semibold',
};

export function CountBadge({ platform, field, text }: { platform: string; field: CopyField; text: string }) {
  const c = checkCopy(platform, field, text);
  const note = c.state === 'over' ? `, ${-c.remaining} over the limit` : c.state === 'under' ? `, under the minimum of ${c.min}` : '';
  return (
    <span className={`whitespace-nowrap text-xs tabular-nums ${STATE_CLASS[c.state]}`} data-state={c.state}>
      {c.count}/{c.max}
      <span className="sr-only"> characters{note}</span>
      {c.state === 'over' || c.state === 'under' ? <span aria-hidden="true"> ⚠</span> : null}
    </span>
  );
}

export default function CopyLine({ platform, field, text }: { platform: string; field: CopyField; text: string | undefined }) {
  if (text === undefined || text === null) return null;
  return (
    <div className="flex items-start justify-between gap-2">
      <p className="text-sm">
        <span className="font-medium text-slate-700">{FIELD_LABELS[field]}: </span>
        {text}
      </p>
      <CountBadge platform={platform} field={field} text={text} />
    </div>
  );
}
