/**
 * Where an API error shows: at the form field its message names (`end_date: ...` under the
 * end date input), or above the form when it names none of the form's fields.
 */

import { ApiError } from './api';

export interface PlacedError {
  /** Message per field name of the form. */
  fields: Record<string, string>;
  /** What no field of the form can show. */
  general: unknown;
}

/**
 * Places an error: `aliases` maps API field names onto the form's (`age_min/age_max` ->
 * `age_min`, `total_budget` -> `budget`).
 */
export function placeError(error: unknown, formFields: readonly string[], aliases: Record<string, string> = {}): PlacedError {
  if (error instanceof ApiError && error.field) {
    const name = aliases[error.field] ?? error.field;
    if (formFields.includes(name)) return { fields: { [name]: error.message }, general: null };
  }
  return { fields: {}, general: error ?? null };
}
