import { describe, expect, it } from 'vitest';
import { ApiError } from '@/lib/api';
import { fieldCandidates, formatBytes, placeError, tooLargeMessage, uploadError } from '@/lib/forms';

const err = (message: string, status = 400) => new ApiError(status, 'invalid_request', message);

describe('placing API errors at their field', () => {
  it('reads the most precise name first', () => {
    expect(fieldCandidates('benefits[1]: 75 characters is outside 2..=60')).toEqual(['benefits[1]', 'benefits']);
    expect(fieldCandidates('brand_kit.primary: `#12` is not #RRGGBB')).toEqual(['brand_kit.primary', 'brand_kit']);
    expect(fieldCandidates('data row 3, column tv: must not be negative')).toEqual(['data row 3, column tv', 'data']);
    expect(fieldCandidates('Content-Type: `text/plain` is not one of image/png')).toEqual(['Content-Type']);
    expect(fieldCandidates('wrong email or password')).toEqual([]);
  });

  it('shows an indexed field at its own input, else at the list', () => {
    const e = err('benefits[1]: 75 characters is outside 2..=60');
    expect(placeError(e, ['benefits', 'benefits[1]'])).toEqual({ fields: { 'benefits[1]': e.message }, general: null });
    expect(placeError(e, ['benefits'])).toEqual({ fields: { benefits: e.message }, general: null });
    const interests = err('interests[3]: 41 characters; at most 40');
    expect(placeError(interests, ['interests']).fields.interests).toBe(interests.message);
  });

  it('maps nested and foreign names through aliases', () => {
    const e = err('brand_kit.logo_asset_id: no asset "x"');
    expect(placeError(e, ['logo'], { 'brand_kit.logo_asset_id': 'logo' }).fields.logo).toBe(e.message);
    const column = err('data row 3, column tv: spend must not be negative');
    expect(placeError(column, ['data', 'columns']).fields.data).toBe(column.message);
  });

  it('keeps what no field can show for the banner', () => {
    const e = err('the planner is busy');
    expect(placeError(e, ['product'])).toEqual({ fields: {}, general: e });
    const other = new Error('boom');
    expect(placeError(other, ['product']).general).toBe(other);
  });

  it('says a 413 in words with the limit, at the upload field', () => {
    const e = new ApiError(413, 'payload_too_large', 'request body is larger than the limit of 2097152 bytes');
    expect(tooLargeMessage(e)).toBe('This is too large: the server accepts at most 2 MB.');
    expect(tooLargeMessage(e, 3_250_000)).toBe('The file is 3.1 MB; the server accepts at most 2 MB.');
    const placed = placeError(e, ['data'], {}, { bodyField: 'data', sentBytes: 3_250_000 });
    expect(placed.fields.data).toBe('The file is 3.1 MB; the server accepts at most 2 MB.');
    expect(placeError(e, ['product']).general).toBe('This is too large: the server accepts at most 2 MB.');
  });

  it('names the upload field on an upload error', () => {
    const named = uploadError('logo', err('name: `..` is not a file name')) as ApiError;
    expect(named.message).toBe('logo: name: `..` is not a file name');
    expect(placeError(named, ['logo', 'product_photo']).fields.logo).toBe(named.message);
    const big = uploadError('product_photo', new ApiError(413, 'payload_too_large', 'request body is larger than the limit of 268435456 bytes'), 300 * 1024 * 1024) as ApiError;
    const placed = placeError(big, ['logo', 'product_photo']);
    expect(placed.fields.product_photo).toBe('product_photo: the file is 300 MB; the server accepts at most 256 MB.');
  });

  it('sizes in words', () => {
    expect(formatBytes(740)).toBe('740 bytes');
    expect(formatBytes(256 * 1024)).toBe('256 KB');
    expect(formatBytes(1.5 * 1024 * 1024)).toBe('1.5 MB');
  });
});
