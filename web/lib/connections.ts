/**
 * Ad-account connections (`/api/platforms/{platform}/connections`, src/api/connections.rs):
 * the fields each platform takes, and the request body from a form's values. Tokens go up and
 * are never answered back; connecting the same account again replaces its tokens in place
 * (rotation).
 */

export const CONNECTION_PLATFORMS = ['meta', 'google', 'tiktok'] as const;
export type ConnectionPlatform = (typeof CONNECTION_PLATFORMS)[number];

/** A connection as listed: no token or secret, ever. */
export interface ConnectionView {
  id: string;
  platform: string;
  account_id: string;
  currency: string;
  time_zone: string;
  page_id: string | null;
  identity_id: string | null;
  customer_id: string | null;
  login_customer_id: string | null;
  token_expires_at: number | null;
  version: number;
  created_at: number;
  updated_at: number;
}

/** `POST .../connections/{id}/test`: whether the platform accepted the tokens, and what it said. */
export interface ConnectionTest {
  ok: boolean;
  message: string;
}

export type ConnectionFieldName =
  | 'account_id'
  | 'currency'
  | 'time_zone'
  | 'access_token'
  | 'refresh_token'
  | 'token_expires_at'
  | 'app_secret'
  | 'page_id'
  | 'identity_id'
  | 'customer_id'
  | 'developer_token'
  | 'login_customer_id';

export interface ConnectionField {
  name: ConnectionFieldName;
  label: string;
  required: boolean;
  /** A token or secret: a password input, never prefilled. */
  secret: boolean;
  hint?: string;
  type?: 'text' | 'datetime-local';
}

const COMMON: ConnectionField[] = [
  { name: 'account_id', label: 'Ad account id', required: true, secret: false },
  { name: 'currency', label: 'Account currency', required: true, secret: false, hint: 'ISO 4217, as the ad account bills (e.g. USD).' },
  { name: 'time_zone', label: 'Account time zone', required: true, secret: false, hint: 'IANA name (e.g. Europe/Berlin): the account’s reporting days.' },
  { name: 'access_token', label: 'Access token', required: true, secret: true },
  { name: 'refresh_token', label: 'Refresh token', required: false, secret: true, hint: 'Optional.' },
  { name: 'token_expires_at', label: 'Access token expires', required: false, secret: false, type: 'datetime-local', hint: 'Optional; your local time.' },
];

const ACCOUNT_HINT: Record<ConnectionPlatform, string> = {
  meta: 'The ad account id without “act_”.',
  google: 'The Google Ads customer id of the account.',
  tiktok: 'The TikTok advertiser id.',
};

const SPECIFIC: Record<ConnectionPlatform, ConnectionField[]> = {
  meta: [
    { name: 'page_id', label: 'Facebook page id', required: true, secret: false, hint: 'The page the ads speak as.' },
    { name: 'app_secret', label: 'App secret', required: false, secret: true, hint: 'Optional: signs each call (appsecret_proof).' },
  ],
  tiktok: [{ name: 'identity_id', label: 'TikTok identity id', required: true, secret: false, hint: 'The identity the ads speak as.' }],
  google: [
    { name: 'customer_id', label: 'Customer id', required: true, secret: false, hint: 'Digits; dashes are dropped (123-456-7890).' },
    { name: 'developer_token', label: 'Developer token', required: true, secret: true },
    { name: 'login_customer_id', label: 'Manager account id', required: false, secret: false, hint: 'Optional: the manager (MCC) acting for the customer.' },
  ],
};

/** The fields a platform's connection takes, common ones first; the others are not shown. */
export function connectionFields(platform: ConnectionPlatform): ConnectionField[] {
  return [
    ...COMMON.map((f) => (f.name === 'account_id' ? { ...f, hint: ACCOUNT_HINT[platform] } : f)),
    ...SPECIFIC[platform],
  ];
}

export type ConnectionValues = Partial<Record<ConnectionFieldName, string>>;

/**
 * The request body: the platform's fields only, trimmed, optional ones only when given,
 * `token_expires_at` as unix milliseconds.
 */
export function connectionBody(platform: ConnectionPlatform, values: ConnectionValues): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const f of connectionFields(platform)) {
    const raw = (values[f.name] ?? '').trim();
    if (!raw && !f.required) continue;
    if (f.name === 'token_expires_at') {
      const ms = new Date(raw).getTime();
      body.token_expires_at = Number.isFinite(ms) ? ms : raw;
    } else if (f.name === 'currency') {
      body.currency = raw.toUpperCase();
    } else {
      body[f.name] = raw;
    }
  }
  return body;
}

/** A form's values to rotate a connection's tokens: its fields kept, every secret blank. */
export function rotationValues(c: ConnectionView): ConnectionValues {
  const values: ConnectionValues = { account_id: c.account_id, currency: c.currency, time_zone: c.time_zone };
  if (c.page_id) values.page_id = c.page_id;
  if (c.identity_id) values.identity_id = c.identity_id;
  if (c.customer_id) values.customer_id = c.customer_id;
  if (c.login_customer_id) values.login_customer_id = c.login_customer_id;
  return values;
}

/** The platform's id that identifies what the ads speak as, in words. */
export function speaksAs(c: ConnectionView): string {
  if (c.page_id) return `page ${c.page_id}`;
  if (c.identity_id) return `identity ${c.identity_id}`;
  if (c.customer_id) return `customer ${c.customer_id}${c.login_customer_id ? ` via ${c.login_customer_id}` : ''}`;
  return '—';
}
