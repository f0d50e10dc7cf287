'use client';

/** What this server runs: `GET /ready` (store, queue, device, models), `GET /v1/models`, `GET /v1/capabilities`. */

import { useEffect, useState } from 'react';
import { ApiError } from '@/lib/api';
import { useApi } from '@/lib/hooks';
import { Card, ErrorBanner, Loading, PageHeader, StatusBadge, TableWrap, td, tdLabel, th } from '../ui';

interface Readiness {
  status: string;
  store: { ok: boolean; backend: string; error?: string };
  queue: { ok: boolean; backend: string; error?: string };
  device: Record<string, unknown>;
  models: { name: string; task: string; architecture: string; default: boolean; installed: boolean; loaded: boolean }[];
}
interface Capabilities {
  image_models: { name: string; sdxl: boolean; in_flight: number; max_requests: number }[];
  schedulers: string[];
  image_limits: Record<string, number>;
  text_model: string | null;
  embedding_model: string | null;
  upscale_scales: number[];
  formats: string[];
}

/** `/ready` answers 503 with the same body when not ready: read it either way. */
function useReady() {
  const [data, setData] = useState<Readiness | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    fetch('/ready', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(async (r) => {
        const body = (await r.json()) as Readiness;
        if (!body || typeof body !== 'object' || !('status' in body)) throw new ApiError(r.status, 'http_error', `/ready answered ${r.status}`);
        setData(body);
      })
      .catch((e) => setError(e));
  }, []);
  return { data, error };
}

export default function Models() {
  const ready = useReady();
  const models = useApi<{ data: { id: string; owned_by: string }[] }>('/v1/models');
  const caps = useApi<Capabilities>('/v1/capabilities');
  return (
    <>
      <PageHeader title="Models and readiness" />
      <Card title="Readiness">
        <ErrorBanner error={ready.error} />
        {!ready.data && !ready.error ? <Loading /> : null}
        {ready.data ? (
          <>
            <p className="mb-2 text-sm">Server: <StatusBadge status={ready.data.status === 'ready' ? 'active' : 'failed'} /> {ready.data.status}</p>
            <ul className="mb-3 text-sm">
              <li>Store ({ready.data.store.backend}): {ready.data.store.ok ? 'answering' : `down: ${ready.data.store.error ?? ''}`}</li>
              <li>Queue ({ready.data.queue.backend}): {ready.data.queue.ok ? 'answering' : `down: ${ready.data.queue.error ?? ''}`}</li>
            </ul>
            <TableWrap label="Model registry">
              <table className="w-full min-w-[560px] border-collapse">
                <thead>
                  <tr>{['Model', 'Task', 'Architecture', 'Installed', 'Loaded'].map((h) => <th key={h} scope="col" className={th}>{h}</th>)}</tr>
                </thead>
                <tbody>
                  {ready.data.models.map((m) => (
                    <tr key={m.name}>
                      <td className={td}>{m.name}{m.default ? <span className="text-xs text-slate-600"> (default)</span> : null}</td>
                      <td className={td}>{String(m.task)}</td>
                      <td className={td}>{m.architecture}</td>
                      <td className={tdLabel}>{m.installed ? 'yes' : 'no'}</td>
                      <td className={tdLabel}>{m.loaded ? <StatusBadge status="active" /> : 'no'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
            <details className="mt-2 text-sm">
              <summary className="cursor-pointer">Device</summary>
              <pre className="overflow-auto rounded bg-slate-100 p-2 text-xs">{JSON.stringify(ready.data.device, null, 2)}</pre>
            </details>
          </>
        ) : null}
      </Card>
      <Card title="Serving (/v1/models)">
        <ErrorBanner error={models.error} onRetry={models.reload} />
        {models.loading && !models.data ? <Loading /> : null}
        {models.data ? (
          models.data.data.length ? <ul className="text-sm">{models.data.data.map((m) => <li key={m.id} className="font-mono">{m.id}</li>)}</ul> : <p className="text-sm text-slate-700">No text or embedding model is loaded.</p>
        ) : null}
      </Card>
      <Card title="Capabilities">
        <ErrorBanner error={caps.error} onRetry={caps.reload} />
        {caps.loading && !caps.data ? <Loading /> : null}
        {caps.data ? (
          <dl className="grid gap-2 text-sm md:grid-cols-2">
            <div><dt className="font-medium">Text model</dt><dd>{caps.data.text_model ?? 'none'}</dd></div>
            <div><dt className="font-medium">Embedding model</dt><dd>{caps.data.embedding_model ?? 'none'}</dd></div>
            <div><dt className="font-medium">Image models</dt><dd>{caps.data.image_models.length ? caps.data.image_models.map((m) => `${m.name} (${m.in_flight}/${m.max_requests} busy)`).join(', ') : 'none: creatives use brand images and gradients'}</dd></div>
            <div><dt className="font-medium">Schedulers</dt><dd>{caps.data.schedulers.join(', ')}</dd></div>
            <div><dt className="font-medium">Upscale</dt><dd>{caps.data.upscale_scales.map((s) => `${s}×`).join(', ')}</dd></div>
            <div><dt className="font-medium">Image limits</dt><dd>{Object.entries(caps.data.image_limits).map(([k, v]) => `${k} ${v}`).join(', ')}</dd></div>
            <div className="md:col-span-2"><dt className="font-medium">Formats</dt><dd className="font-mono text-xs">{caps.data.formats.join(', ')}</dd></div>
          </dl>
        ) : null}
      </Card>
    </>
  );
}
