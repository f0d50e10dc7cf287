import { describe, expect, it } from 'vitest';
import { FORMATS, REELS, STORIES, describeSize, findFormat, formatsForPlatform, textArea, unsafeBands } from '@/lib/formats';

describe('format table (formats.rs)', () => {
  it('has unique ids and the PLATFORMS.md sizes', () => {
    const ids = FORMATS.map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(findFormat('meta_feed_portrait')).toMatchObject({ width: 1080, height: 1350 });
    expect(findFormat('iab_leaderboard')).toMatchObject({ width: 728, height: 90 });
    expect(findFormat('video:tiktok_in_feed')?.id).toBe('tiktok_in_feed');
    expect(findFormat('poster:meta_reels')?.safeZone).toEqual(REELS);
    expect(findFormat('meta_feed')).toBeUndefined();
  });

  it('lists a platform’s formats (the sandbox renders Meta’s), without logos', () => {
    expect(formatsForPlatform('sandbox').map((f) => f.id)).toContain('meta_stories');
    expect(formatsForPlatform('google').some((f) => f.medium === 'logo')).toBe(false);
    expect(formatsForPlatform('tiktok').map((f) => f.id)).toEqual(['tiktok_in_feed']);
  });
});

describe('safe-zone geometry', () => {
  it('matches SafeZone::text_area for Stories and Reels', () => {
    const stories = textArea(STORIES, 1080, 1920);
    expect(stories.x).toBe(0);
    expect(stories.width).toBe(1080);
    expect(stories.y).toBe(269);
    expect(stories.y + stories.height).toBe(1536);
    const reels = textArea(REELS, 1080, 1920);
    expect(reels.y + reels.height).toBe(1248);
  });

  it('leaves a format without a zone whole', () => {
    const f = findFormat('meta_feed_square')!;
    expect(textArea(f.safeZone, f.width, f.height)).toEqual({ x: 0, y: 0, width: 1080, height: 1080 });
    expect(unsafeBands(f.safeZone)).toEqual([]);
  });

  it('draws the unsafe bands in percent', () => {
    expect(unsafeBands(STORIES)).toEqual([
      { edge: 'top', left: 0, top: 0, width: 100, height: 14 },
      { edge: 'bottom', left: 0, top: 80, width: 100, height: 20 },
    ]);
    expect(unsafeBands(REELS)[1]).toEqual({ edge: 'bottom', left: 0, top: 65, width: 100, height: 35 });
    expect(unsafeBands({ top: 0, bottom: 0, left: 0.1, right: 0.05 })).toEqual([
      { edge: 'left', left: 0, top: 0, width: 10, height: 100 },
      { edge: 'right', left: 95, top: 0, width: 5, height: 100 },
    ]);
  });

  it('describes sizes with their ratio', () => {
    expect(describeSize(1080, 1920)).toBe('1080×1920 (9:16)');
    expect(describeSize(1080, 1350)).toBe('1080×1350 (4:5)');
    expect(describeSize(1200, 628)).toBe('1200×628 (1.91:1)');
  });
});
