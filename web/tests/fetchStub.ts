/** A fetch stand-in for component tests: answers by method and path, and records every call. */

import { vi } from 'vitest';

export interface Call {
  method: string;
  path: string;
  body: unknown;
  headers: Record<string, string>;
}

type Answer = { status?: number; json?: unknown; headers?: Record<string, string> };
type Route = [method: string, path: RegExp, answer: Answer | ((call: Call) => Answer)];

export function stubFetch(routes: Route[]): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? 'GET';
    const path = String(url);
    let body: unknown = init.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        // a raw body
      }
    }
    const call = { method, path, body, headers: (init.headers ?? {}) as Record<string, string> };
    calls.push(call);
    const route = routes.find(([m, p]) => m === method && p.test(path));
    if (!route) return new Response(JSON.stringify({ error: { code: 'not_found', message: `no route for ${method} ${path}` } }), { status: 404 });
    const a = typeof route[2] === 'function' ? route[2](call) : route[2];
    return new Response(a.json === undefined ? null : JSON.stringify(a.json), {
      status: a.status ?? 200,
      headers: { 'content-type': 'application/json', ...(a.headers ?? {}) },
    });
  });
  return calls;
}

export function apiError(status: number, message: string, code = 'invalid_request'): Answer {
  return { status, json: { error: { code, message } } };
}
