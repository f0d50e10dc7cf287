/**
 * Where an API error shows: at the form field its message names (`end_date: ...` under the
 * end date input, `benefits[1]: ...` under the second benefit), or above the form when it
 * names none of the form's fields. Every form of the dashboard places its errors here, so a
 * message the API answers is never lost: what no field can show goes above the form.
 *
 * A body over the server's limit (413) is said in words with the limit ("The file is 3.1 MB;
 * the server accepts at most 2 MB"), at the upload's field where the form has one.
 */

import { ApiError, fieldOf, fieldPathOf } from './api';

export interface PlacedError {
  /** Message per field name of the form. */
  fields: Record<string, string>;
  /** What no field of the form can show. */
  general: unknown;
}

export const NO_ERROR: PlacedError = { fields: {}, general: null };

export interface PlaceOptions {
  /** The field a 413 (body too large) or 415 (unsupported type) answer belongs to: the file input. */
  bodyField?: string;
  /** The size of what was sent, in bytes, to say beside the limit. */
  sentBytes?: number;
}

/** "2 MB", "256 KB", "740 bytes": a size in words (1 KB = 1024 bytes, as the server counts). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1024) return `${Math.round(bytes)} bytes`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = value >= 10 || Number.isInteger(value) ? 0 : 1;
  return `${value.toFixed(digits).replace(/\.0$/, '')} ${units[unit]}`;
}

/** The limit a 413 message states (`... the limit of 2097152 bytes`), in bytes. */
export function limitOf(message: string): number | null {
  const m = /(\d[\d,_]*)\s*bytes/i.exec(message);
  if (!m) return null;
  const n = Number(m[1].replace(/[,_]/g, ''));
  return Number.isFinite(n) ? n : null;
}

/** A 413 in words: the limit (from the server's message), and what was sent where known. */
export function tooLargeMessage(error: ApiError, sentBytes?: number): string {
  const limit = limitOf(error.message);
  const sent = sentBytes !== undefined ? `The file is ${formatBytes(sentBytes)}; ` : 'This is too large: ';
  if (limit === null) return `${sent}the server refused it as over its size limit (${error.message}).`;
  return `${sent}the server accepts at most ${formatBytes(limit)}.`;
}

/**
 * The names a message may be about, most precise first: the full path (`benefits[1]`,
 * `brand_kit.primary`), each shorter path (`brand_kit`), the top field (`age_min` of
 * `age_min/age_max`), then the words before the first colon (`Content-Type`, `data row 3,
 * column tv` and its first word `data`).
 */
export function fieldCandidates(message: string): string[] {
  const out: string[] = [];
  const add = (c: string | null | undefined) => {
    if (c && !out.includes(c)) out.push(c);
  };
  let path = fieldPathOf(message);
  while (path) {
    add(path);
    const shorter = path.replace(/(\[[0-9]+\]|\.[A-Za-z0-9_]+)$/, '');
    path = shorter !== path ? shorter : null;
  }
  add(fieldOf(message));
  const colon = message.indexOf(': ');
  if (colon > 0 && colon <= 80) {
    const prefix = message.slice(0, colon).trim();
    add(prefix);
    add(/^[A-Za-z_][A-Za-z0-9_-]*/.exec(prefix)?.[0]);
  }
  return out;
}

/**
 * Places an error: `aliases` maps API field names onto the form's (`age_min/age_max` ->
 * `age_min`, `total_budget` -> `budget`, `Content-Type` -> `logo`).
 */
export function placeError(
  error: unknown,
  formFields: readonly string[],
  aliases: Record<string, string> = {},
  options: PlaceOptions = {},
): PlacedError {
  if (error instanceof ApiError) {
    if (error.status === 413) {
      const named = fieldCandidates(error.message).map((c) => aliases[c] ?? c).find((c) => formFields.includes(c));
      if (named && error.code === 'upload_too_large') return { fields: { [named]: error.message }, general: null };
      const message = tooLargeMessage(error, options.sentBytes);
      if (options.bodyField && formFields.includes(options.bodyField)) return { fields: { [options.bodyField]: message }, general: null };
      return { fields: {}, general: message };
    }
    for (const candidate of fieldCandidates(error.message)) {
      const name = aliases[candidate] ?? candidate;
      if (formFields.includes(name)) return { fields: { [name]: error.message }, general: null };
    }
    if (error.status === 415 && options.bodyField && formFields.includes(options.bodyField)) {
      return { fields: { [options.bodyField]: error.message }, general: null };
    }
  }
  return { fields: {}, general: error ?? null };
}

/**
 * An error thrown while uploading the file of a form field: its message is about that field
 * (a 413 is said in words with the limit and the file's size).
 */
export function uploadError(field: string, error: unknown, sentBytes?: number): unknown {
  if (!(error instanceof ApiError)) return error;
  if (error.status === 413) {
    const words = tooLargeMessage(error, sentBytes);
    return new ApiError(413, 'upload_too_large', `${field}: ${words[0].toLowerCase()}${words.slice(1)}`, error.retryAfter);
  }
  const already = fieldCandidates(error.message)[0];
  if (already === field) return error;
  return new ApiError(error.status, error.code, `${field}: ${error.message}`, error.retryAfter);
}
