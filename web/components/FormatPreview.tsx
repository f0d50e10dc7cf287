'use client';

/**
 * One rendered format at its true aspect ratio, optionally with its platform's safe zones
 * drawn over it (the bands text must stay out of), or a video with its poster.
 */

import { assetUrl } from '@/lib/api';
import { describeSize, findFormat, NO_ZONE, unsafeBands } from '@/lib/formats';

/** Tallest a preview is drawn, in CSS pixels. */
const MAX_HEIGHT = 320;

export function captionsUrl(text: string): string {
  const clean = text.replace(/-->/g, '→').replace(/\n+/g, ' ').trim() || 'No spoken words.';
  return `data:text/vtt;charset=utf-8,${encodeURIComponent(`WEBVTT\n\n00:00:00.000 --> 01:00:00.000\n${clean}\n`)}`;
}

export default function FormatPreview({
  formatKey,
  assetId,
  posterId,
  showZones,
  alt,
}: {
  formatKey: string;
  assetId: string;
  posterId?: string;
  showZones: boolean;
  /** What the creative says (alt text of the image, captions of the video). */
  alt: string;
}) {
  const format = findFormat(formatKey);
  const width = format?.width ?? 1;
  const height = format?.height ?? 1;
  const isVideo = formatKey.startsWith('video:');
  const bands = showZones ? unsafeBands(format?.safeZone ?? NO_ZONE) : [];
  return (
    <figure className="flex flex-col gap-1" data-testid="format-preview" data-format={formatKey}>
      <div
        className="relative overflow-hidden rounded border border-slate-300 bg-slate-200"
        style={{ aspectRatio: `${width} / ${height}`, width: `min(100%, ${Math.round((MAX_HEIGHT * width) / height)}px)` }}
      >
        {isVideo ? (
          <video
            className="absolute inset-0 h-full w-full object-contain"
            controls
            preload="metadata"
            playsInline
            poster={posterId ? assetUrl(posterId) : undefined}
            aria-label={`${formatKey}: ${alt}`}
          >
            <source src={assetUrl(assetId)} type="video/mp4" />
            <track kind="captions" srcLang="en" label="Ad text" src={captionsUrl(alt)} default />
          </video>
        ) : (
          // eslint-disable-next-line @next/next/no-img-element
          <img src={assetUrl(assetId)} alt={`${formatKey}: ${alt}`} loading="lazy" className="absolute inset-0 h-full w-full object-contain" />
        )}
        {bands.map((b) => (
          <div
            key={b.edge}
            aria-hidden="true"
            data-testid="safe-zone"
            className="pointer-events-none absolute border-red-700 bg-red-600/35 [background-image:repeating-linear-gradient(45deg,transparent_0_6px,rgba(255,255,255,.35)_6px_9px)]"
            style={{ left: `${b.left}%`, top: `${b.top}%`, width: `${b.width}%`, height: `${b.height}%` }}
          />
        ))}
      </div>
      <figcaption className="text-xs text-slate-700">
        <span className="font-mono">{formatKey}</span>
        {format ? ` · ${describeSize(width, height)}` : ''}
        {showZones && format && bands.length === 0 ? ' · no text-free zone' : ''}
        {showZones && bands.length > 0
          ? ` · keep text out of ${bands.map((b) => `${b.edge} ${b.edge === 'top' || b.edge === 'bottom' ? b.height : b.width}%`).join(', ')}`
          : ''}
      </figcaption>
    </figure>
  );
}
