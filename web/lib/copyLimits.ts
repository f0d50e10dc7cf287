/**
 * Copy character limits per platform, mirroring `orchestrate/copy.rs` (`CopyLimits::of`) and
 * shared/PLATFORMS.md: Meta primary text 125, headline 40, description 30; Google responsive
 * display headline 30, long headline (adforge's primary text) 90, description 90; TikTok ad
 * text 1-100. The sandbox behaves like Meta. Characters are Unicode scalar values, as Rust's
 * `chars().count()` and JSON schema `maxLength` count them.
 */

export type CopyField = 'headline' | 'primary_text' | 'description';

export interface FieldLimit {
  field: CopyField;
  min: number;
  max: number;
}

export const COPY_FIELDS: readonly CopyField[] = ['headline', 'primary_text', 'description'];

export const FIELD_LABELS: Record<CopyField, string> = {
  headline: 'Headline',
  primary_text: 'Primary text',
  description: 'Description',
};

const LIMITS: Record<'meta' | 'google' | 'tiktok', Record<CopyField, FieldLimit>> = {
  meta: {
    headline: { field: 'headline', min: 3, max: 40 },
    primary_text: { field: 'primary_text', min: 10, max: 125 },
    description: { field: 'description', min: 3, max: 30 },
  },
  google: {
    headline: { field: 'headline', min: 3, max: 30 },
    primary_text: { field: 'primary_text', min: 10, max: 90 },
    description: { field: 'description', min: 3, max: 90 },
  },
  tiktok: {
    headline: { field: 'headline', min: 3, max: 40 },
    primary_text: { field: 'primary_text', min: 1, max: 100 },
    description: { field: 'description', min: 3, max: 100 },
  },
};

/** The platform whose copy rules apply (sandbox and unknown platforms follow Meta). */
export function copyPlatform(platform: string): 'meta' | 'google' | 'tiktok' {
  return platform === 'google' || platform === 'tiktok' ? platform : 'meta';
}

export function limitFor(platform: string, field: CopyField): FieldLimit {
  return LIMITS[copyPlatform(platform)][field];
}

/** Characters as the server counts them (code points, so an emoji is one or a few, never a half). */
export function countChars(text: string): number {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

export type CountState = 'ok' | 'near' | 'over' | 'under';

export interface CopyCount {
  count: number;
  min: number;
  max: number;
  /** Characters left before the limit (negative when over). */
  remaining: number;
  state: CountState;
}

/** How a text stands against a field's limit: `near` within 10% of the maximum. */
export function checkCopy(platform: string, field: CopyField, text: string): CopyCount {
  const { min, max } = limitFor(platform, field);
  const count = countChars(text.trim());
  const remaining = max - count;
  let state: CountState = 'ok';
  if (count > max) state = 'over';
  else if (count < min) state = 'under';
  else if (remaining <= Math.floor(max * 0.1)) state = 'near';
  return { count, min, max, remaining, state };
}

/** Whether every field of a variant is within its platform's limits. */
export function variantFits(platform: string, copy: Partial<Record<CopyField, string>>): boolean {
  return COPY_FIELDS.every((field) => {
    const text = copy[field];
    if (text === undefined) return true;
    const state = checkCopy(platform, field, text).state;
    return state === 'ok' || state === 'near';
  });
}
