import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, fieldOf, fieldPathOf, query, request } from '@/lib/api';
import { placeError } from '@/lib/forms';

describe('the field an API message names', () => {
  it('reads the field before the colon', () => {
    expect(fieldOf('end_date: 2026-01-01 is before start_date 2026-02-01')).toBe('end_date');
    expect(fieldOf('platforms[1]: `x` is not one of meta, google, tiktok, sandbox')).toBe('platforms');
    expect(fieldOf('bounds.tv: not a channel of the model')).toBe('bounds');
    expect(fieldOf('age_min/age_max: ages run from 13 to 65')).toBe('age_min');
    expect(fieldOf('daily[3].variants: 2 counts for 1 variants')).toBe('daily');
    expect(fieldPathOf('platforms[1]: listed twice')).toBe('platforms[1]');
  });

  it('finds none where the message names none', () => {
    expect(fieldOf('wrong email or password')).toBeNull();
    expect(fieldOf('If-Match header: required')).toBeNull();
    expect(fieldOf('no route for GET /api/x')).toBeNull();
  });

  it('places the error at the form field, else above the form', () => {
    const e = new ApiError(400, 'invalid_request', 'total_budget: must be more than 0');
    expect(placeError(e, ['total_budget'])).toEqual({ fields: { total_budget: e.message }, general: null });
    expect(placeError(e, ['name'])).toEqual({ fields: {}, general: e });
    const aliased = new ApiError(400, 'invalid_request', 'age_min/age_max: ages run from 13 to 65');
    expect(placeError(aliased, ['age_min']).fields.age_min).toMatch(/ages run/);
  });
});

describe('request', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('sends the cookie, and the CSRF header on mutations only', async () => {
    const calls: RequestInit[] = [];
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
      calls.push(init);
      return new Response('{"ok":true}', { status: 200, headers: { 'content-type': 'application/json' } });
    });
    await request('/api/campaigns');
    await request('/api/keys', { method: 'POST', json: { name: 'ci' } });
    expect(calls[0].credentials).toBe('same-origin');
    expect((calls[0].headers as Record<string, string>)['X-Requested-With']).toBeUndefined();
    expect(calls[1].credentials).toBe('same-origin');
    expect((calls[1].headers as Record<string, string>)['X-Requested-With']).toBe('adforge');
    expect((calls[1].headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(calls[1].body).toBe('{"name":"ci"}');
  });

  it('turns the error envelope into an ApiError with its field', async () => {
    vi.stubGlobal('fetch', async () =>
      new Response('{"error":{"code":"invalid_request","message":"end_date: is before start_date"}}', { status: 400 }),
    );
    const err = await request('/api/campaigns/plan', { method: 'POST', json: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code: 'invalid_request', field: 'end_date' });
  });

  it('keeps the status line when the body is not the envelope, and reads Retry-After', async () => {
    vi.stubGlobal('fetch', async () => new Response('busy', { status: 503, statusText: 'Service Unavailable', headers: { 'retry-after': '5' } }));
    const err = (await request('/api/jobs').catch((e) => e)) as ApiError;
    expect(err.message).toBe('503 Service Unavailable');
    expect(err.retryAfter).toBe(5);
  });

  it('knows a route the server lacks', () => {
    expect(new ApiError(404, 'not_found', 'no route for POST /api/deployments/x/pause').isMissingRoute).toBe(true);
    expect(new ApiError(404, 'not_found', 'no campaign "x"').isMissingRoute).toBe(false);
  });

  it('builds query strings from set values only', () => {
    expect(query({ status: 'active', platform: '', limit: 20, cursor: null })).toBe('?status=active&limit=20');
    expect(query({})).toBe('');
  });
});
