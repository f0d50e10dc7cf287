#!/usr/bin/env node
/**
 * Gzipped JavaScript each exported page loads at first: the <script src="/_next/..."> files
 * of its HTML, each gzipped (level 9) from out/_next. Chunks a page imports later (charts, the
 * zip writer) are not in its first load; they are listed once at the end.
 *
 * Usage: node scripts/js-size.mjs [out-dir] [--max-kb=250 --page=/index.html]
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';

const outDir = process.argv.find((a, i) => i > 1 && !a.startsWith('--')) ?? 'out';
const maxKb = Number((process.argv.find((a) => a.startsWith('--max-kb=')) ?? '=0').split('=')[1]);
const limitedPage = (process.argv.find((a) => a.startsWith('--page=')) ?? '=/index.html').split('=')[1];

const gz = new Map();
function gzipped(path) {
  if (!gz.has(path)) gz.set(path, gzipSync(readFileSync(path), { level: 9 }).length);
  return gz.get(path);
}

function walk(dir, ext) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p, ext));
    else if (name.endsWith(ext)) out.push(p);
  }
  return out;
}

const used = new Set();
const rows = [];
for (const file of walk(outDir, '.html').sort()) {
  const html = readFileSync(file, 'utf8');
  const srcs = [...html.matchAll(/<script[^>]*\ssrc="([^"]+\.js)"/g)].map((m) => m[1]);
  let total = 0;
  for (const src of new Set(srcs)) {
    const path = join(outDir, src.replace(/^\//, ''));
    used.add(path);
    total += gzipped(path);
  }
  rows.push([`/${relative(outDir, file).split(sep).join('/')}`, total]);
}

const kb = (n) => (n / 1024).toFixed(1);
console.log('first-load JS, gzipped (KB):');
for (const [page, total] of rows) console.log(`  ${kb(total).padStart(7)}  ${page}`);
const lazy = walk(join(outDir, '_next'), '.js').filter((p) => !used.has(p));
const lazyTotal = lazy.reduce((n, p) => n + gzipped(p), 0);
console.log(`loaded on demand by some page (all such chunks together): ${kb(lazyTotal)} KB gzipped in ${lazy.length} files`);
for (const p of lazy.sort((a, b) => gzipped(b) - gzipped(a)).slice(0, 8)) console.log(`  ${kb(gzipped(p)).padStart(7)}  ${relative(outDir, p)}`);

if (maxKb > 0) {
  const row = rows.find(([page]) => page === limitedPage);
  if (!row) {
    console.error(`no page ${limitedPage}`);
    process.exit(1);
  }
  if (row[1] / 1024 > maxKb) {
    console.error(`${limitedPage}: ${kb(row[1])} KB gzipped is over the limit of ${maxKb} KB`);
    process.exit(1);
  }
  console.log(`${limitedPage}: ${kb(row[1])} KB gzipped, within ${maxKb} KB`);
}
