#!/usr/bin/env node
/**
 * Serves the static export (out/) the way the adforge binary will: `/path/` -> `path/index.html`,
 * and each page with a Content-Security-Policy that allows inline scripts by the hashes in
 * out/csp.json only. There is no API behind it: `/api/*`, `/v1/*` and `/ready` answer 401 in
 * the API's error envelope, so the pages show their signed-out state. For `npm run e2e:static`.
 *
 * Usage: node scripts/serve-static.mjs [out-dir] [port]
 */

import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';

const root = process.argv[2] ?? 'out';
const port = Number(process.argv[3] ?? 4173);
const hashes = JSON.parse(readFileSync(join(root, 'csp.json'), 'utf8'));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** The policy the adforge binary is expected to send with a page. */
export function policyFor(page) {
  const scripts = (hashes[page] ?? []).map((h) => `'${h}'`).join(' ');
  return [
    "default-src 'self'",
    `script-src 'self' ${scripts}`.trim(),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "media-src 'self' data: blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join('; ');
}

function resolve(urlPath) {
  const clean = normalize(decodeURIComponent(urlPath)).replace(/^(\.\.[/\\])+/, '');
  let file = join(root, clean);
  if (clean.endsWith('/')) file = join(file, 'index.html');
  else if (!extname(clean) && existsSync(join(file, 'index.html'))) file = join(file, 'index.html');
  if (!file.startsWith(normalize(root))) return null;
  return existsSync(file) && statSync(file).isFile() ? file : null;
}

createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname.startsWith('/api/') || url.pathname.startsWith('/v1/') || url.pathname === '/ready') {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'unauthorized', message: 'missing session: sign in first' } }));
    return;
  }
  const file = resolve(url.pathname) ?? join(root, '404.html');
  const status = resolve(url.pathname) ? 200 : 404;
  const headers = { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'x-content-type-options': 'nosniff' };
  if (file.endsWith('.html')) {
    headers['content-security-policy'] = policyFor(`/${file.slice(normalize(root).length + 1).split('\\').join('/')}`);
  }
  res.writeHead(status, headers);
  res.end(readFileSync(file));
}).listen(port, '127.0.0.1', () => console.log(`serving ${root} on http://127.0.0.1:${port}`));
