import { describe, expect, it } from 'vitest';
import { checkCopy, copyPlatform, countChars, limitFor, variantFits } from '@/lib/copyLimits';

describe('limits per platform (PLATFORMS.md, copy.rs)', () => {
  it('has Meta, Google and TikTok limits, the sandbox behaving like Meta', () => {
    expect(limitFor('meta', 'primary_text').max).toBe(125);
    expect(limitFor('meta', 'headline').max).toBe(40);
    expect(limitFor('meta', 'description').max).toBe(30);
    expect(limitFor('google', 'headline').max).toBe(30);
    expect(limitFor('google', 'primary_text').max).toBe(90);
    expect(limitFor('google', 'description').max).toBe(90);
    expect(limitFor('tiktok', 'primary_text')).toEqual({ field: 'primary_text', min: 1, max: 100 });
    expect(limitFor('sandbox', 'primary_text').max).toBe(125);
    expect(copyPlatform('sandbox')).toBe('meta');
  });
});

describe('counting', () => {
  it('counts code points as the server does', () => {
    expect(countChars('abc')).toBe(3);
    expect(countChars('café')).toBe(4);
    expect(countChars('👍')).toBe(1);
    expect('👍'.length).toBe(2);
    expect(countChars('')).toBe(0);
  });

  it('states where a text stands against its limit', () => {
    expect(checkCopy('google', 'headline', 'a'.repeat(30))).toMatchObject({ count: 30, max: 30, remaining: 0, state: 'near' });
    expect(checkCopy('google', 'headline', 'a'.repeat(31))).toMatchObject({ remaining: -1, state: 'over' });
    expect(checkCopy('google', 'headline', 'a'.repeat(20)).state).toBe('ok');
    expect(checkCopy('meta', 'headline', 'ab').state).toBe('under');
    expect(checkCopy('meta', 'primary_text', 'x'.repeat(113)).state).toBe('near');
    expect(checkCopy('meta', 'primary_text', 'x'.repeat(112)).state).toBe('ok');
    // Surrounding spaces are not counted (the server trims).
    expect(checkCopy('meta', 'headline', '  Fresh bread  ').count).toBe(11);
  });

  it('checks a whole variant', () => {
    expect(variantFits('tiktok', { headline: 'Bake it', primary_text: 'x'.repeat(100), description: 'Fresh' })).toBe(true);
    expect(variantFits('tiktok', { headline: 'Bake it', primary_text: 'x'.repeat(101) })).toBe(false);
    expect(variantFits('google', { headline: 'h'.repeat(31) })).toBe(false);
  });
});
