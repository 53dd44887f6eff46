// The account menu in the header: who is signed in, sign out, sign out everywhere.
import { useRef, useState } from 'react';
import { Button } from '../ui';
import { problemMessage } from '../lib/problem';
import { useAuth } from './auth';

export function UserMenu() {
  const { account, signOut, signOutEverywhere } = useAuth();
  const ref = useRef<HTMLDetailsElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!account) return null;
  const run = (fn: () => Promise<void>) => async () => {
    setBusy(true);
    setError(null);
    try { await fn(); } catch (e) { setError(problemMessage(e)); setBusy(false); }
  };
  return (
    <details className="menu" ref={ref}>
      <summary className="btn btn-ghost btn-small" aria-label={`Account: ${account.email ?? 'signed in'}`}>
        <span aria-hidden="true">{(account.email ?? '?').slice(0, 1).toUpperCase()}</span>
        <span className="visually-hidden">Account menu</span>
      </summary>
      <div className="menu-panel">
        <p><strong>{account.email}</strong></p>
        <p className="muted">{account.role} · {account.tenantName ?? account.tenantSlug}</p>
        {error && <p role="alert" className="field-error">{error}</p>}
        <ul>
          <li><Button variant="ghost" size="small" busy={busy} onClick={run(signOut)}>Sign out</Button></li>
          <li><Button variant="ghost" size="small" disabled={busy} onClick={run(signOutEverywhere)}>Sign out everywhere</Button></li>
        </ul>
      </div>
    </details>
  );
}
