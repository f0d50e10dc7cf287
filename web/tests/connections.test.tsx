// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectionBody, connectionFields, rotationValues, type ConnectionView } from '@/lib/connections';
import Connections, { ConnectForm } from '@/components/pages/Connections';
import { apiError, stubFetch } from './fetchStub';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const names = (p: 'meta' | 'google' | 'tiktok') => connectionFields(p).map((f) => f.name);

const META: ConnectionView = {
  id: 'k1', platform: 'meta', account_id: '1234', currency: 'USD', time_zone: 'America/New_York', page_id: '99', identity_id: null,
  customer_id: null, login_customer_id: null, token_expires_at: null, version: 1, created_at: 0, updated_at: 0,
};

describe('connection fields per platform', () => {
  it('asks each platform for its own ids only', () => {
    expect(names('meta')).toEqual(['account_id', 'currency', 'time_zone', 'access_token', 'refresh_token', 'token_expires_at', 'page_id', 'app_secret']);
    expect(names('tiktok')).toContain('identity_id');
    expect(names('tiktok')).not.toContain('page_id');
    expect(names('google')).toEqual(expect.arrayContaining(['customer_id', 'developer_token', 'login_customer_id']));
    expect(names('google')).not.toContain('app_secret');
    expect(connectionFields('meta').find((f) => f.name === 'page_id')?.required).toBe(true);
    expect(connectionFields('google').find((f) => f.name === 'developer_token')).toMatchObject({ required: true, secret: true });
  });

  it('builds the body from the platform’s fields only', () => {
    const body = connectionBody('google', {
      account_id: ' 123 ', currency: 'eur', time_zone: 'Europe/Berlin', access_token: 'tok', customer_id: '123-456-7890',
      developer_token: 'dev', page_id: 'ignored', refresh_token: '', token_expires_at: '2027-01-01T00:00',
    });
    expect(body).toEqual({
      account_id: '123', currency: 'EUR', time_zone: 'Europe/Berlin', access_token: 'tok', customer_id: '123-456-7890',
      developer_token: 'dev', token_expires_at: new Date('2027-01-01T00:00').getTime(),
    });
  });

  it('rotates with the fields kept and no secret', () => {
    expect(rotationValues(META)).toEqual({ account_id: '1234', currency: 'USD', time_zone: 'America/New_York', page_id: '99' });
  });
});

describe('ConnectForm', () => {
  it('shows the platform-specific fields for the chosen platform only', () => {
    const { rerender } = render(<ConnectForm platform="meta" initial={{}} rotating={false} onPlatform={() => {}} onDone={() => {}} />);
    expect(screen.getByLabelText('Facebook page id')).toBeTruthy();
    expect(screen.queryByLabelText('Customer id')).toBeNull();
    expect(screen.getByLabelText('Access token').getAttribute('type')).toBe('password');
    rerender(<ConnectForm platform="google" initial={{}} rotating={false} onPlatform={() => {}} onDone={() => {}} />);
    expect(screen.getByLabelText('Customer id')).toBeTruthy();
    expect(screen.getByLabelText('Developer token').getAttribute('type')).toBe('password');
    expect(screen.queryByLabelText('Facebook page id')).toBeNull();
    rerender(<ConnectForm platform="tiktok" initial={{}} rotating={false} onPlatform={() => {}} onDone={() => {}} />);
    expect(screen.getByLabelText('TikTok identity id')).toBeTruthy();
  });

  it('shows the API error at the field it names', async () => {
    stubFetch([['POST', /\/api\/platforms\/meta\/connections$/, apiError(400, 'page_id: required for meta connections')]]);
    render(<ConnectForm platform="meta" initial={{}} rotating={false} onPlatform={() => {}} onDone={() => {}} />);
    fireEvent.click(screen.getByRole('button', { name: 'Connect account' }));
    await waitFor(() => expect(document.getElementById('conn-page_id-error')?.textContent).toBe('page_id: required for meta connections'));
  });
});

describe('Connections page', () => {
  it('lists, tests, rotates and removes', async () => {
    const calls = stubFetch([
      ['GET', /\/api\/platforms\/meta\/connections$/, { json: { connections: [META] } }],
      ['GET', /\/api\/platforms\/(google|tiktok)\/connections$/, { json: { connections: [] } }],
      ['POST', /\/connections\/k1\/test$/, { json: { ok: false, message: 'the token expired on 2026-01-01' } }],
      ['POST', /\/api\/platforms\/meta\/connections$/, { status: 200, json: { ...META, version: 2 } }],
      ['DELETE', /\/connections\/k1$/, { status: 204 }],
    ]);
    render(<Connections />);
    const row = await screen.findByText('1234');
    const tr = row.closest('tr')!;
    fireEvent.click(within(tr).getByTestId('connection-test'));
    await waitFor(() => expect(within(tr).getByTestId('connection-test-result').textContent).toBe('Does not work: the token expired on 2026-01-01'));
    fireEvent.click(within(tr).getByTestId('connection-rotate'));
    expect((screen.getByLabelText('Ad account id') as HTMLInputElement).value).toBe('1234');
    expect((screen.getByLabelText('Facebook page id') as HTMLInputElement).value).toBe('99');
    fireEvent.change(screen.getByLabelText('Access token'), { target: { value: 'new-token' } });
    fireEvent.click(screen.getByRole('button', { name: 'Replace tokens' }));
    await waitFor(() => expect(screen.getByTestId('connection-notice').textContent).toMatch(/Tokens of meta account 1234 replaced/));
    const rotate = calls.find((c) => c.method === 'POST' && /\/api\/platforms\/meta\/connections$/.test(c.path))!;
    expect(rotate.body).toEqual({ account_id: '1234', currency: 'USD', time_zone: 'America/New_York', access_token: 'new-token', page_id: '99' });
    fireEvent.click(within(tr).getByTestId('connection-remove'));
    fireEvent.click(within(tr).getByTestId('connection-remove-confirm'));
    await waitFor(() => expect(calls.some((c) => c.method === 'DELETE' && c.path.endsWith('/connections/k1'))).toBe(true));
  });
});
