'use client';

/**
 * Ad-account connections per platform: the list (`GET /api/platforms/{p}/connections`, no
 * tokens ever answered), connect (`POST` the same route), test (`POST .../{id}/test` answers
 * `{ok, message}`), rotate (connect the same account again with new tokens: replaced in place)
 * and remove (`DELETE .../{id}`). Each platform's own required fields show only for it.
 */

import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, post, request } from '@/lib/api';
import {
  CONNECTION_PLATFORMS,
  connectionBody,
  connectionFields,
  rotationValues,
  speaksAs,
  type ConnectionPlatform,
  type ConnectionTest,
  type ConnectionValues,
  type ConnectionView,
} from '@/lib/connections';
import { NO_ERROR, placeError, type PlacedError } from '@/lib/forms';
import { useApi } from '@/lib/hooks';
import { Button, Card, ErrorBanner, Field, PageHeader, States, TableWrap, describedBy, formatTime, inputClass, td, tdLabel, th } from '../ui';

const PLATFORM_NAMES: Record<ConnectionPlatform, string> = { meta: 'Meta', google: 'Google Ads', tiktok: 'TikTok' };

function defaultTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** The connect form: a new account, or new tokens for one connected before (rotation). */
export function ConnectForm({
  platform,
  initial,
  rotating,
  onPlatform,
  onDone,
  onCancel,
}: {
  platform: ConnectionPlatform;
  initial: ConnectionValues;
  rotating: boolean;
  onPlatform: (p: ConnectionPlatform) => void;
  onDone: (c: ConnectionView, replaced: boolean) => void;
  onCancel?: () => void;
}) {
  const [values, setValues] = useState<ConnectionValues>(initial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<PlacedError>(NO_ERROR);
  const fields = connectionFields(platform);
  const names = fields.map((f) => f.name as string);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(NO_ERROR);
    try {
      const answer = await request<ConnectionView>(`/api/platforms/${platform}/connections`, { method: 'POST', json: connectionBody(platform, values) });
      onDone(answer.data, answer.status === 200);
      setValues({ currency: values.currency, time_zone: values.time_zone });
    } catch (err) {
      setError(placeError(err, [...names, 'platform']));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} noValidate data-testid="connect-form" data-platform={platform}>
      <ErrorBanner error={error.general ?? error.fields.platform} />
      {!rotating ? (
        <fieldset className="mb-3">
          <legend className="text-sm font-medium">Platform</legend>
          <div className="mt-1 flex flex-wrap gap-4">
            {CONNECTION_PLATFORMS.map((p) => (
              <label key={p} className="flex items-center gap-2 text-sm">
                <input type="radio" name="connection-platform" value={p} checked={platform === p} onChange={() => onPlatform(p)} />
                {PLATFORM_NAMES[p]}
              </label>
            ))}
          </div>
        </fieldset>
      ) : (
        <p className="mb-3 text-sm text-slate-800">
          New tokens for {PLATFORM_NAMES[platform]} account <span className="font-mono">{values.account_id}</span>: they replace the old ones in place.
        </p>
      )}
      <div className="grid gap-4 md:grid-cols-3">
        {fields.map((f) => {
          const id = `conn-${f.name}`;
          const err = error.fields[f.name];
          return (
            <Field key={f.name} id={id} label={`${f.label}${f.required ? '' : ' (optional)'}`} hint={f.hint} error={err}>
              <input
                {...describedBy(id, Boolean(f.hint), err)}
                name={f.name}
                type={f.secret ? 'password' : f.type ?? 'text'}
                autoComplete={f.secret ? 'new-password' : 'off'}
                required={f.required}
                readOnly={rotating && f.name === 'account_id'}
                value={values[f.name] ?? ''}
                onChange={(e) => setValues((v) => ({ ...v, [f.name]: e.target.value }))}
                className={inputClass}
              />
            </Field>
          );
        })}
      </div>
      <div className="mt-3 flex gap-2">
        <Button type="submit" busy={busy}>{rotating ? 'Replace tokens' : 'Connect account'}</Button>
        {onCancel ? <Button variant="secondary" onClick={onCancel}>Cancel</Button> : null}
      </div>
    </form>
  );
}

function PlatformConnections({
  platform,
  refresh,
  onRotate,
}: {
  platform: ConnectionPlatform;
  refresh: number;
  onRotate: (c: ConnectionView) => void;
}) {
  const list = useApi<{ connections: ConnectionView[] }>(`/api/platforms/${platform}/connections`);
  const { reload } = list;
  useEffect(() => {
    if (refresh > 0) reload();
  }, [refresh, reload]);
  const [tests, setTests] = useState<Record<string, ConnectionTest | string>>({});
  const [busy, setBusy] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const rows = list.data?.connections ?? [];

  const test = async (c: ConnectionView) => {
    setBusy(`test-${c.id}`);
    try {
      const answer = await post<ConnectionTest>(`/api/platforms/${platform}/connections/${encodeURIComponent(c.id)}/test`);
      setTests((t) => ({ ...t, [c.id]: answer }));
    } catch (e) {
      const message = e instanceof ApiError && e.isMissingRoute ? 'Testing a connection is not available on this server yet.' : e instanceof Error ? e.message : String(e);
      setTests((t) => ({ ...t, [c.id]: { ok: false, message } }));
    } finally {
      setBusy(null);
    }
  };
  const remove = async (c: ConnectionView) => {
    setBusy(`remove-${c.id}`);
    setError(null);
    try {
      await request(`/api/platforms/${platform}/connections/${encodeURIComponent(c.id)}`, { method: 'DELETE' });
      setConfirming(null);
      list.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  return (
    <Card title={PLATFORM_NAMES[platform]}>
      <ErrorBanner error={error} />
      <States
        loading={list.loading && !list.data}
        error={list.error}
        onRetry={list.reload}
        empty={list.data && rows.length === 0 ? <p className="text-sm text-slate-700">No {PLATFORM_NAMES[platform]} account connected.</p> : false}
      >
        <TableWrap label={`${PLATFORM_NAMES[platform]} connections`}>
          <table className="w-full min-w-[760px] border-collapse" data-testid={`connections-${platform}`}>
            <thead>
              <tr>
                <th scope="col" className={th}>Account</th>
                <th scope="col" className={th}>Currency</th>
                <th scope="col" className={th}>Time zone</th>
                <th scope="col" className={th}>Speaks as</th>
                <th scope="col" className={th}>Token expires</th>
                <th scope="col" className={th}>Updated</th>
                <th scope="col" className={th}>Actions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((c) => {
                const result = tests[c.id];
                return (
                  <tr key={c.id} data-testid="connection" data-platform={platform} data-account={c.account_id}>
                    <td className={`${tdLabel} font-mono`}>{c.account_id}</td>
                    <td className={tdLabel}>{c.currency}</td>
                    <td className={tdLabel}>{c.time_zone}</td>
                    <td className={tdLabel}>{speaksAs(c)}</td>
                    <td className={`${tdLabel} text-xs`}>{c.token_expires_at ? formatTime(c.token_expires_at) : '—'}</td>
                    <td className={`${tdLabel} text-xs`}>{formatTime(c.updated_at)}</td>
                    <td className={td}>
                      <div className="flex flex-wrap gap-2">
                        <Button variant="secondary" onClick={() => test(c)} busy={busy === `test-${c.id}`} data-testid="connection-test" aria-label={`Test ${c.account_id}`}>
                          Test
                        </Button>
                        <Button variant="secondary" onClick={() => onRotate(c)} data-testid="connection-rotate" aria-label={`Rotate the tokens of ${c.account_id}`}>
                          Rotate tokens
                        </Button>
                        {confirming === c.id ? (
                          <>
                            <Button variant="danger" onClick={() => remove(c)} busy={busy === `remove-${c.id}`} data-testid="connection-remove-confirm">
                              Remove {c.account_id}
                            </Button>
                            <Button variant="ghost" onClick={() => setConfirming(null)}>Keep</Button>
                          </>
                        ) : (
                          <Button variant="secondary" onClick={() => setConfirming(c.id)} data-testid="connection-remove" aria-label={`Remove ${c.account_id}`}>
                            Remove
                          </Button>
                        )}
                      </div>
                      {result ? (
                        <p
                          role="status"
                          className={`mt-1 text-sm ${typeof result !== 'string' && result.ok ? 'text-green-800' : 'text-red-800'}`}
                          data-testid="connection-test-result"
                          data-ok={typeof result !== 'string' && result.ok ? 'true' : 'false'}
                        >
                          {typeof result === 'string' ? result : `${result.ok ? 'Works' : 'Does not work'}: ${result.message}`}
                        </p>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      </States>
    </Card>
  );
}

export default function Connections() {
  const [platform, setPlatform] = useState<ConnectionPlatform>('meta');
  const [rotating, setRotating] = useState<ConnectionView | null>(null);
  const [refresh, setRefresh] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const formRef = useRef<HTMLDivElement>(null);
  const fresh: ConnectionValues = { currency: 'USD', time_zone: defaultTimeZone() };
  const formKey = rotating ? `rotate-${rotating.id}` : `new-${platform}`;

  const done = (c: ConnectionView, replaced: boolean) => {
    setNotice(replaced ? `Tokens of ${c.platform} account ${c.account_id} replaced.` : `${c.platform} account ${c.account_id} connected.`);
    setRotating(null);
    setRefresh((n) => n + 1);
  };

  return (
    <>
      <PageHeader title="Connections" />
      <p className="mb-3 text-sm text-slate-700">
        The ad accounts adforge deploys to. Tokens are sealed on the server and never shown again; rotate them by connecting the same account
        with new ones. The sandbox needs no connection.
      </p>
      <div ref={formRef}>
        <Card title={rotating ? `Rotate tokens · ${PLATFORM_NAMES[rotating.platform as ConnectionPlatform] ?? rotating.platform}` : 'Connect an ad account'}>
          {notice ? <p role="status" className="mb-2 text-sm text-green-800" data-testid="connection-notice">{notice}</p> : null}
          <ConnectForm
            key={formKey}
            platform={rotating ? (rotating.platform as ConnectionPlatform) : platform}
            initial={rotating ? rotationValues(rotating) : fresh}
            rotating={rotating !== null}
            onPlatform={setPlatform}
            onDone={done}
            onCancel={rotating ? () => setRotating(null) : undefined}
          />
        </Card>
      </div>
      {CONNECTION_PLATFORMS.map((p) => (
        <PlatformConnections
          key={p}
          platform={p}
          refresh={refresh}
          onRotate={(c) => {
            setNotice(null);
            setRotating(c);
            formRef.current?.scrollIntoView?.({ block: 'start' });
          }}
        />
      ))}
    </>
  );
}
