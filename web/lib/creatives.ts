/**
 * Creatives in words: a creative is named by its concept (the row's `name`), its platform
 * and its formats (`meta_feed_square` -> "feed 1080×1080"), never by its id; and the same
 * words, slugged, name the files of a download.
 */

import { findFormat } from './formats';
import type { Creative } from './types';

/** The keys of a creative's assets that are shown as a format (images and videos; not posters). */
export function displayKeys(assets: Record<string, string>): string[] {
  return Object.keys(assets)
    .filter((k) => !k.startsWith('poster:') && !k.startsWith('thumb:'))
    .sort((a, b) => Number(a.startsWith('video:')) - Number(b.startsWith('video:')) || a.localeCompare(b));
}

/** A format key in words: `meta_stories` -> "stories 1080×1920", `video:tiktok_in_feed` -> "in-feed 1080×1920 video". */
export function formatWords(key: string): string {
  const video = key.startsWith('video:');
  const f = findFormat(key);
  const base = f ? `${f.placement} ${f.width}×${f.height}` : key.replace(/^[a-z]+:/, '').replace(/_/g, ' ');
  return video ? `${base} video` : base;
}

/** "Morning ritual · meta · stories 1080×1920" (one format), or "… · 3 formats". */
export function creativeLabel(c: Pick<Creative, 'name' | 'platform' | 'assets'>): string {
  const keys = displayKeys(c.assets ?? {});
  const name = c.name?.trim() || 'Untitled creative';
  const parts = [name];
  if (c.platform && !name.toLowerCase().includes(c.platform.toLowerCase())) parts.push(c.platform);
  if (keys.length === 1) parts.push(formatWords(keys[0]));
  else if (keys.length > 1) parts.push(`${keys.length} formats`);
  return parts.join(' · ');
}

/** Labels by creative id; the same name twice gets "(2)", "(3)" so rows stay told apart. */
export function creativeLabels(creatives: readonly Creative[]): Map<string, string> {
  const out = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const c of creatives) {
    const label = creativeLabel(c);
    const n = (seen.get(label) ?? 0) + 1;
    seen.set(label, n);
    out.set(c.id, n === 1 ? label : `${label} (${n})`);
  }
  return out;
}

/** A creative's label by id, or a short id where the creative is unknown (deleted, another page). */
export function labelOf(labels: Map<string, string> | null | undefined, id: string | null | undefined): string {
  if (!id) return 'unattributed';
  return labels?.get(id) ?? `creative ${id.slice(0, 8)}`;
}

/** A file or folder name: lower case ASCII letters, digits and `-` ("Ridgeline Roasters!" -> "ridgeline-roasters"). */
export function slug(text: string, max = 60): string {
  const s = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/g, '');
  return s || 'untitled';
}

/**
 * An experiment arm's or a series' name in words: a creative id, or "creative <id prefix>"
 * (as arms are named), becomes the creative's label; any other name stays.
 */
export function nameInWords(labels: Map<string, string> | null | undefined, name: string): string {
  if (!labels || labels.size === 0) return name;
  const direct = labels.get(name);
  if (direct) return direct;
  const m = /^(?:creative\s+)?([0-9a-f][0-9a-f-]{7,})…?$/i.exec(name.trim());
  if (!m) return name;
  const prefix = m[1].toLowerCase();
  const hits = [...labels.keys()].filter((id) => id.toLowerCase().startsWith(prefix));
  return hits.length === 1 ? labels.get(hits[0])! : name;
}
