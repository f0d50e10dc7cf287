#!/usr/bin/env node
/**
 * Writes out/csp.json: for every exported HTML file, the sha256 hashes (base64, as CSP's
 * `'sha256-...'` source expressions want them) of its inline <script> blocks, keyed by the
 * path the file is served at: {"/index.html": ["sha256-..."], "/jobs/index.html": [...]}.
 * The adforge binary sends them in each page's Content-Security-Policy, so no other inline
 * script can run. Scripts with a `src` and data blocks (type="application/json" and the like,
 * which browsers never execute) need no hash and are skipped.
 *
 * Usage: node scripts/csp-hashes.mjs [out-dir]   (run by `npm run build`)
 */

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const EXECUTABLE_TYPES = new Set(['', 'text/javascript', 'application/javascript', 'module', 'text/ecmascript', 'application/ecmascript']);

/** Every inline script's text in an HTML document, in order. */
export function inlineScripts(html) {
  const scripts = [];
  const pattern = /<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi;
  for (const match of html.matchAll(pattern)) {
    const attributes = match[1];
    if (/\ssrc\s*=/i.test(` ${attributes}`)) continue;
    const type = /\btype\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i.exec(attributes);
    const kind = (type ? type[1] ?? type[2] ?? type[3] : '').trim().toLowerCase();
    if (!EXECUTABLE_TYPES.has(kind)) continue;
    scripts.push(match[2]);
  }
  return scripts;
}

/** The CSP source expression of a script's text: 'sha256-<base64>' without the quotes. */
export function hashOf(text) {
  return `sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}`;
}

function htmlFiles(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...htmlFiles(path));
    else if (name.endsWith('.html')) found.push(path);
  }
  return found;
}

function main() {
  const outDir = process.argv[2] ?? 'out';
  const result = {};
  for (const file of htmlFiles(outDir).sort()) {
    const key = `/${relative(outDir, file).split(sep).join('/')}`;
    const hashes = [...new Set(inlineScripts(readFileSync(file, 'utf8')).map(hashOf))];
    result[key] = hashes;
  }
  const target = join(outDir, 'csp.json');
  writeFileSync(target, `${JSON.stringify(result, null, 2)}\n`);
  const count = Object.values(result).reduce((n, h) => n + h.length, 0);
  console.log(`csp-hashes: ${Object.keys(result).length} HTML files, ${count} inline script hashes -> ${target}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
