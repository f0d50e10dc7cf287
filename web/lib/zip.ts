/**
 * "Download all": every asset of the listed creatives fetched with the session cookie and
 * zipped in the browser (fflate, loaded only when the button is pressed), with the copy as
 * copy.json beside them. Names are words, slugged: `<campaign>/<concept>-<platform>/<format>.png`
 * inside `<campaign>-creatives.zip`, never ids.
 */

import { assetUrl } from './api';
import { slug } from './creatives';
import type { Creative } from './types';

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
  'video/mp4': 'mp4',
  'video/webm': 'webm',
  'image/svg+xml': 'svg',
};

/** The zip file's name: `ridgeline-roasters-creatives.zip`. */
export function zipName(campaignName: string): string {
  return `${slug(campaignName)}-creatives.zip`;
}

/**
 * Each creative's folder, `<concept>-<platform>` slugged under the campaign's folder; a name
 * met twice gets `-2`, `-3` (in list order, so the same list gives the same names).
 */
export function creativeFolders(campaignName: string, creatives: readonly Pick<Creative, 'id' | 'name' | 'platform'>[]): Map<string, string> {
  const root = slug(campaignName);
  const out = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const c of creatives) {
    const name = slug(c.name || 'creative', 50);
    const base = name.endsWith(slug(c.platform)) ? name : `${name}-${slug(c.platform)}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    out.set(c.id, `${root}/${n === 1 ? base : `${base}-${n}`}`);
  }
  return out;
}

/** The zip's file path of one asset: `<folder>/<format>.<ext>` (`video:meta_reels` -> `meta-reels-video.mp4`). */
export function entryPath(folder: string, key: string, contentType: string): string {
  const ext = EXTENSIONS[contentType.split(';')[0].trim()] ?? 'bin';
  const [kind, id] = key.includes(':') ? [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)] : ['', key];
  const name = kind ? `${slug(id)}-${slug(kind)}` : slug(id);
  return `${folder}/${name}.${ext}`;
}

export async function zipCreatives(
  campaignName: string,
  creatives: Creative[],
  onProgress: (done: number, total: number) => void,
): Promise<Blob> {
  const { zip, strToU8 } = await import('fflate');
  const files: Record<string, Uint8Array> = {};
  const folders = creativeFolders(campaignName, creatives);
  const jobs = creatives.flatMap((c) => Object.entries(c.assets).map(([key, id]) => ({ c, key, id })));
  let done = 0;
  for (const { c, key, id } of jobs) {
    const response = await fetch(assetUrl(id), { credentials: 'same-origin' });
    if (!response.ok) throw new Error(`asset ${id} (${key}): ${response.status} ${response.statusText}`);
    const type = response.headers.get('content-type') ?? 'application/octet-stream';
    files[entryPath(folders.get(c.id)!, key, type)] = new Uint8Array(await response.arrayBuffer());
    done += 1;
    onProgress(done, jobs.length);
  }
  const copy = creatives.map((c) => ({ id: c.id, name: c.name, folder: folders.get(c.id), platform: c.platform, status: c.status, copy: c.copy, assets: c.assets }));
  files[`${slug(campaignName)}/copy.json`] = strToU8(JSON.stringify(copy, null, 2));
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
