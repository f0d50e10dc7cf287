/**
 * The creative formats adforge renders, mirroring `src/media/formats.rs` (sizes from
 * shared/PLATFORMS.md, "Creative specs"), and the geometry of their safe zones: the bands of a
 * format where text must not go, as fractions of its height (top, bottom) and width (left, right).
 */

export interface SafeZone {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

export type Medium = 'image' | 'image_or_video' | 'logo';

export interface Format {
  id: string;
  platform: 'meta' | 'google' | 'iab' | 'tiktok';
  placement: string;
  width: number;
  height: number;
  medium: Medium;
  safeZone: SafeZone;
}

export const NO_ZONE: SafeZone = { top: 0, bottom: 0, left: 0, right: 0 };
/** Meta Stories: text out of the top 14% and the bottom 20%. */
export const STORIES: SafeZone = { top: 0.14, bottom: 0.2, left: 0, right: 0 };
/** Meta Reels: the bottom 35% stays clear (captions and controls). */
export const REELS: SafeZone = { top: 0.14, bottom: 0.35, left: 0, right: 0 };

const f = (
  id: string,
  platform: Format['platform'],
  placement: string,
  width: number,
  height: number,
  medium: Medium,
  safeZone: SafeZone = NO_ZONE,
): Format => ({ id, platform, placement, width, height, medium, safeZone });

export const FORMATS: readonly Format[] = [
  f('meta_feed_square', 'meta', 'feed', 1080, 1080, 'image_or_video'),
  f('meta_feed_portrait', 'meta', 'feed', 1080, 1350, 'image_or_video'),
  f('meta_stories', 'meta', 'stories', 1080, 1920, 'image_or_video', STORIES),
  f('meta_reels', 'meta', 'reels', 1080, 1920, 'image_or_video', REELS),
  f('meta_link', 'meta', 'link', 1200, 628, 'image'),
  f('google_display_landscape', 'google', 'responsive display', 1200, 628, 'image'),
  f('google_display_square', 'google', 'responsive display', 1200, 1200, 'image'),
  f('google_logo_square', 'google', 'responsive display logo', 1200, 1200, 'logo'),
  f('google_logo_landscape', 'google', 'responsive display logo', 1200, 300, 'logo'),
  f('iab_medium_rectangle', 'iab', 'display', 300, 250, 'image'),
  f('iab_leaderboard', 'iab', 'display', 728, 90, 'image'),
  f('iab_wide_skyscraper', 'iab', 'display', 160, 600, 'image'),
  f('iab_mobile_banner', 'iab', 'display', 320, 50, 'image'),
  f('iab_half_page', 'iab', 'display', 300, 600, 'image'),
  f('iab_billboard', 'iab', 'display', 970, 250, 'image'),
  // TikTok gives no zone in PLATFORMS.md: adforge uses the Stories zone (formats.rs).
  f('tiktok_in_feed', 'tiktok', 'in-feed', 1080, 1920, 'image_or_video', STORIES),
  f('youtube_landscape', 'google', 'youtube and google video', 1920, 1080, 'image_or_video'),
];

/** A format by id; asset keys may carry a `video:` or `poster:` prefix, which is ignored. */
export function findFormat(key: string): Format | undefined {
  const id = key.includes(':') ? key.slice(key.indexOf(':') + 1) : key;
  return FORMATS.find((x) => x.id === id);
}

/** The formats a campaign platform's creatives are rendered at (sandbox behaves like Meta). */
export function formatsForPlatform(platform: string): Format[] {
  const p = platform === 'sandbox' ? 'meta' : platform;
  return FORMATS.filter((x) => x.platform === p && x.medium !== 'logo');
}

/** Pixel rectangle: x, y from the top left. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The rectangle text may use, in pixels, rounded inwards as `SafeZone::text_area` does:
 * meta_stories (1080x1920) -> x 0, y 269, 1080 wide, ending at row 1536.
 */
export function textArea(zone: SafeZone, width: number, height: number): Rect {
  const x = Math.ceil(width * zone.left);
  const y = Math.ceil(height * zone.top);
  const right = Math.floor(width * (1 - zone.right));
  const bottom = Math.floor(height * (1 - zone.bottom));
  return { x, y, width: Math.max(0, right - x), height: Math.max(0, bottom - y) };
}

/** The bands text must stay out of, as percentages of the format for a CSS overlay. */
export interface Band {
  edge: 'top' | 'bottom' | 'left' | 'right';
  /** CSS percentages: left, top, width, height. */
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The non-empty unsafe bands of a zone, in percent of the format's width and height. */
export function unsafeBands(zone: SafeZone): Band[] {
  const bands: Band[] = [];
  const pct = (v: number) => Math.round(v * 10000) / 100;
  if (zone.top > 0) bands.push({ edge: 'top', left: 0, top: 0, width: 100, height: pct(zone.top) });
  if (zone.bottom > 0)
    bands.push({ edge: 'bottom', left: 0, top: pct(1 - zone.bottom), width: 100, height: pct(zone.bottom) });
  if (zone.left > 0) bands.push({ edge: 'left', left: 0, top: 0, width: pct(zone.left), height: 100 });
  if (zone.right > 0)
    bands.push({ edge: 'right', left: pct(1 - zone.right), top: 0, width: pct(zone.right), height: 100 });
  return bands;
}

/** "1080×1920 (9:16)": the size with its reduced aspect ratio. */
export function describeSize(width: number, height: number): string {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const g = gcd(width, height);
  let ratioText = `${width / g}:${height / g}`;
  if (width / g > 40 || height / g > 40) ratioText = `${(width / height).toFixed(2)}:1`;
  return `${width}×${height} (${ratioText})`;
}
