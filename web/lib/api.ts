/**
 * The one way the dashboard talks to the adforge API: same-origin fetches that carry the
 * session cookie (`adforge_session`, HttpOnly, set by `POST /api/auth/login`), the CSRF header
 * `X-Requested-With: adforge` on every mutation, JSON in and out, and the error envelope
 * `{"error": {"code", "message"}}` turned into an `ApiError` that knows the field it names.
 */

export const CSRF_HEADER = 'X-Requested-With';
export const CSRF_VALUE = 'adforge';

/** A failed API call: HTTP status, the stable code, the message, and the field it names. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** The top-level field the message starts with (`end_date: ...` -> `end_date`), if any. */
  readonly field: string | null;
  /** Seconds from `Retry-After`, for 429 and 503. */
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = fieldOf(message);
    this.retryAfter = retryAfter;
  }

  /** A route this server does not have (yet): `no route for GET /api/...`. */
  get isMissingRoute(): boolean {
    return this.status === 404 && /^no route for /.test(this.message);
  }
}

/**
 * The field an API message names. Messages start with the field path and a colon:
 * `end_date: ...`, `platforms[1]: ...`, `bounds.tv: ...`, `age_min/age_max: ...`,
 * `daily[3].variants: ...`. The first path segment is returned (`platforms`, `bounds`,
 * `age_min`, `daily`); messages that do not start that way give null.
 */
export function fieldOf(message: string): string | null {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\[[0-9]+\]|\.[A-Za-z0-9_]+|\/[A-Za-z_][A-Za-z0-9_]*)*:\s/.exec(message);
  return m ? m[1] : null;
}

/** The full field path of a message (`platforms[1]`, `bounds.tv`), if it has one. */
export function fieldPathOf(message: string): string | null {
  const m = /^([A-Za-z_][A-Za-z0-9_]*(?:\[[0-9]+\]|\.[A-Za-z0-9_]+)*):\s/.exec(message);
  return m ? m[1] : null;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** A JSON body (serialised here) ... */
  json?: unknown;
  /** ... or a raw body with its content type (uploads, JSON Lines). */
  body?: BodyInit;
  contentType?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** What a call answered: the parsed JSON body and the headers (for ETag). */
export interface ApiResponse<T> {
  status: number;
  data: T;
  headers: Headers;
}

type UnauthorizedListener = () => void;
let onUnauthorized: UnauthorizedListener | null = null;

/** Called once per 401 so the shell can send the user to sign-in. */
export function setUnauthorizedListener(listener: UnauthorizedListener | null): void {
  onUnauthorized = listener;
}

async function errorFrom(response: Response): Promise<ApiError> {
  const retry = response.headers.get('retry-after');
  const retryAfter = retry && /^\d+$/.test(retry) ? Number(retry) : null;
  let code = 'http_error';
  let message = `${response.status} ${response.statusText || 'error'}`;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    if (body?.error?.message) {
      message = body.error.message;
      code = body.error.code ?? code;
    }
  } catch {
    // Not the JSON envelope (a proxy's page, an empty body): keep the status line.
  }
  return new ApiError(response.status, code, message, retryAfter);
}

/** Calls the API and answers the JSON body with status and headers, or throws `ApiError`. */
export async function request<T>(path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const method = options.method ?? (options.json !== undefined || options.body ? 'POST' : 'GET');
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  let body: BodyInit | undefined = options.body;
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.contentType) {
    headers['Content-Type'] = options.contentType;
  }
  if (method !== 'GET') headers[CSRF_HEADER] = CSRF_VALUE;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body,
      credentials: 'same-origin',
      signal: options.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'the server could not be reached; check your connection and retry');
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && !path.startsWith('/api/auth/')) onUnauthorized?.();
    throw error;
  }
  const text = response.status === 204 ? '' : await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  return { status: response.status, data: data as T, headers: response.headers };
}

/** GET and answer the body. */
export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await request<T>(path, { signal })).data;
}

/** POST JSON and answer the body. */
export async function post<T>(path: string, json: unknown = {}): Promise<T> {
  return (await request<T>(path, { method: 'POST', json })).data;
}

/** A query string from defined, non-empty values. */
export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The version in an ETag (`"3"` or `W/"3"`) as `If-Match` wants it back. */
export function etagOf(headers: Headers): string | null {
  return headers.get('etag');
}

/** The URL of an asset's bytes (the cookie authorises it; images and videos load it directly). */
export function assetUrl(assetId: string): string {
  return `/api/assets/${encodeURIComponent(assetId)}/content`;
}

/** A message for anything thrown. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
