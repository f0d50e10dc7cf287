'use client';

/** API keys: `POST /api/keys {name}` (the key is shown this once), `GET /api/keys` (by prefix), `DELETE /api/keys/{id}`. */

import { useState, type FormEvent } from 'react';
import { post, request } from '@/lib/api';
import { placeError, type PlacedError } from '@/lib/forms';
import { useApi } from '@/lib/hooks';
import type { CreatedKey, KeyView } from '@/lib/types';
import { Button, Card, Empty, ErrorBanner, Field, PageHeader, States, TableWrap, describedBy, formatTime, inputClass, td, tdLabel, th } from '../ui';

export default function Keys() {
  const keys = useApi<{ keys: KeyView[] }>('/api/keys');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<PlacedError>({ fields: {}, general: null });
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [copied, setCopied] = useState(false);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [revokeError, setRevokeError] = useState<unknown>(null);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError({ fields: {}, general: null });
    setCopied(false);
    try {
      setCreated(await post<CreatedKey>('/api/keys', { name }));
      setName('');
      keys.reload();
    } catch (err) {
      setError(placeError(err, ['name']));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (id: string) => {
    setRevokeError(null);
    try {
      await request(`/api/keys/${encodeURIComponent(id)}`, { method: 'DELETE' });
      setConfirming(null);
      keys.reload();
    } catch (e) {
      setRevokeError(e);
    }
  };

  return (
    <>
      <PageHeader title="API keys" />
      <Card title="New key">
        <ErrorBanner error={error.general} />
        <form onSubmit={create} className="flex flex-wrap items-end gap-3" noValidate>
          <Field id="key-name" label="What the key is for" error={error.fields.name} className="min-w-64 grow">
            <input {...describedBy('key-name', false, error.fields.name)} value={name} onChange={(e) => setName(e.target.value)} className={inputClass} maxLength={100} />
          </Field>
          <Button type="submit" busy={busy}>Create key</Button>
        </form>
        {created ? (
          <div role="status" className="mt-3 rounded border border-green-300 bg-green-50 p-3 text-sm">
            <p className="font-medium">Key “{created.name}” created. Copy it now: it is shown this once.</p>
            <div className="mt-2 flex flex-wrap items-center gap-2">
              <code className="break-all rounded bg-white px-2 py-1 font-mono text-xs" data-testid="new-key">{created.key}</code>
              <Button
                variant="secondary"
                onClick={async () => {
                  await navigator.clipboard?.writeText(created.key);
                  setCopied(true);
                }}
              >
                {copied ? 'Copied' : 'Copy'}
              </Button>
              <Button variant="ghost" onClick={() => setCreated(null)}>I have stored it</Button>
            </div>
          </div>
        ) : null}
      </Card>
      <ErrorBanner error={revokeError} />
      <States
        loading={keys.loading && !keys.data}
        error={keys.error}
        onRetry={keys.reload}
        empty={keys.data && keys.data.keys.length === 0 ? <Empty title="No API keys">Scripts and CI use keys; the dashboard uses your session.</Empty> : false}
      >
        <TableWrap label="API keys">
          <table className="w-full min-w-[560px] border-collapse bg-white">
            <thead>
              <tr>
                <th scope="col" className={th}>Name</th>
                <th scope="col" className={th}>Prefix</th>
                <th scope="col" className={th}>Created</th>
                <th scope="col" className={th}>Status</th>
                <th scope="col" className={th}><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {keys.data?.keys.map((k) => (
                <tr key={k.id}>
                  <td className={td}>{k.name}</td>
                  <td className={`${td} font-mono text-xs`}>{k.prefix}…</td>
                  <td className={`${tdLabel} text-xs`}>{formatTime(k.created_at)}</td>
                  <td className={td}>{k.revoked_at ? `revoked ${formatTime(k.revoked_at)}` : 'active'}</td>
                  <td className={td}>
                    {k.revoked_at ? null : confirming === k.id ? (
                      <span className="flex gap-2">
                        <Button variant="danger" onClick={() => revoke(k.id)}>Revoke {k.name}</Button>
                        <Button variant="secondary" onClick={() => setConfirming(null)}>Keep</Button>
                      </span>
                    ) : (
                      <Button variant="secondary" onClick={() => setConfirming(k.id)} aria-label={`Revoke key ${k.name}`}>Revoke</Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      </States>
    </>
  );
}
