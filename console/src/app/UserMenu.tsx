// The account menu in the header (a disclosure button): who is signed in, sign out, sign
// out everywhere. Esc or a click elsewhere closes it.
import { useEffect, useId, useRef, useState } from 'react';
import { Button } from '../ui/Button';
import { problemMessage } from '../lib/problem';
import { useAuth } from './auth';
import { TenantSwitcher } from './TenantSwitcher';

export function UserMenu() {
  const { account, signOut, signOutEverywhere } = useAuth();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<HTMLDivElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const panelId = useId();

  useEffect(() => {
    if (!open) return undefined;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      setOpen(false);
      buttonRef.current?.focus();
    };
    const onClick = (e: MouseEvent) => { if (!ref.current?.contains(e.target as Node)) setOpen(false); };
    document.addEventListener('keydown', onKey);
    document.addEventListener('mousedown', onClick);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('mousedown', onClick);
    };
  }, [open]);

  if (!account) return null;
  const run = (fn: () => Promise<void>) => async () => {
    setBusy(true);
    setError(null);
    try { await fn(); } catch (e) { setError(problemMessage(e)); setBusy(false); }
  };
  return (
    <div className="menu" ref={ref}>
      <Button ref={buttonRef} variant="ghost" size="small" aria-expanded={open} aria-controls={panelId}
        onClick={() => setOpen((o) => !o)}>
        Account<span className="visually-hidden">: {account.email}</span>
      </Button>
      {open && (
        <div className="menu-panel" id={panelId}>
          <p><strong>{account.email}</strong></p>
          <p className="muted">{account.role} · {account.tenantName ?? account.tenantSlug}</p>
          {error && <p role="alert" className="field-error">{error}</p>}
          <TenantSwitcher disabled={busy} />
          <ul>
            <li><Button variant="ghost" size="small" busy={busy} onClick={run(signOut)}>Sign out</Button></li>
            <li><Button variant="ghost" size="small" disabled={busy} onClick={run(signOutEverywhere)}>Sign out everywhere</Button></li>
          </ul>
        </div>
      )}
    </div>
  );
}
