'use client';

/** Sign-in: `POST /api/auth/login {email, password}`; the server sets the session cookie. */

import { useState, type FormEvent } from 'react';
import { request } from '@/lib/api';
import { placeError, type PlacedError } from '@/lib/forms';
import type { LoginResponse } from '@/lib/types';
import { Button, ErrorBanner, Field, describedBy, inputClass } from '../ui';

/** Only same-site paths are followed after sign-in. */
function nextPath(): string {
  const next = new URLSearchParams(window.location.search).get('next');
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/signin') ? next : '/';
}

export default function SignIn() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<PlacedError>({ fields: {}, general: null });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError({ fields: {}, general: null });
    try {
      await request<LoginResponse>('/api/auth/login', { method: 'POST', json: { email, password } });
      window.location.assign(nextPath());
    } catch (err) {
      setError(placeError(err, ['email', 'password']));
      setBusy(false);
    }
  };

  return (
    <div className="mx-auto mt-8 max-w-sm rounded border border-slate-300 bg-white p-6">
      <h1 className="mb-4 text-xl font-semibold">Sign in to adforge</h1>
      <ErrorBanner error={error.general} />
      <form onSubmit={submit} className="flex flex-col gap-4" noValidate>
        <Field id="email" label="Email" error={error.fields.email}>
          <input
            {...describedBy('email', false, error.fields.email)}
            name="email"
            type="email"
            autoComplete="username"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            className={inputClass}
          />
        </Field>
        <Field id="password" label="Password" error={error.fields.password}>
          <input
            {...describedBy('password', false, error.fields.password)}
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            className={inputClass}
          />
        </Field>
        <Button type="submit" busy={busy}>
          Sign in
        </Button>
      </form>
    </div>
  );
}
