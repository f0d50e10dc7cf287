/**
 * "Download all": every asset of the listed creatives fetched with the session cookie and
 * zipped in the browser (fflate, loaded only when the button is pressed), with the copy as
 * copy.json beside them.
 */

import { assetUrl } from './api';
import type { Creative } from './types';

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
  'video/mp4': 'mp4',
  'video/webm': 'webm',
  'image/svg+xml': 'svg',
};

/** A path segment safe in a zip: letters, digits, `.`, `_` and `-`. */
export function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 80) || 'item';
}

/** The zip's file path of one asset: `<creative>/<format key>.<ext>` (`video:x` -> `video_x`). */
export function entryPath(creative: Pick<Creative, 'id' | 'name'>, key: string, contentType: string): string {
  const ext = EXTENSIONS[contentType.split(';')[0].trim()] ?? 'bin';
  return `${safeName(creative.name || creative.id)}_${creative.id.slice(0, 8)}/${safeName(key.replace(':', '_'))}.${ext}`;
}

export async function zipCreatives(
  creatives: Creative[],
  onProgress: (done: number, total: number) => void,
): Promise<Blob> {
  const { zip, strToU8 } = await import('fflate');
  const files: Record<string, Uint8Array> = {};
  const jobs = creatives.flatMap((c) => Object.entries(c.assets).map(([key, id]) => ({ c, key, id })));
  let done = 0;
  for (const { c, key, id } of jobs) {
    const response = await fetch(assetUrl(id), { credentials: 'same-origin' });
    if (!response.ok) throw new Error(`asset ${id} (${key}): ${response.status} ${response.statusText}`);
    const type = response.headers.get('content-type') ?? 'application/octet-stream';
    files[entryPath(c, key, type)] = new Uint8Array(await response.arrayBuffer());
    done += 1;
    onProgress(done, jobs.length);
  }
  const copy = creatives.map((c) => ({ id: c.id, name: c.name, platform: c.platform, status: c.status, copy: c.copy, assets: c.assets }));
  files['copy.json'] = strToU8(JSON.stringify(copy, null, 2));
  const bytes = await new Promise<Uint8Array>((resolve, reject) =>
    // Images and videos are compressed already: store them.
    zip(files, { level: 0 }, (err, data) => (err ? reject(err) : resolve(data))),
  );
  return new Blob([bytes as BlobPart], { type: 'application/zip' });
}

/** Saves a blob as a file through a temporary link. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
