// The account menu's list of the account's organisations, for an account in several: one
// button per other organisation moves the session there (app/auth.tsx switchTenant), which
// forgets everything of the current one. Shown only when there is somewhere to go.
import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { cairn, type MyTenant } from '../lib/sdk';
import { problemMessage } from '../lib/problem';
import { Button } from '../ui/Button';
import { useAuth } from './auth';

export function TenantSwitcher({ disabled, onBusy }: { disabled?: boolean; onBusy?: (busy: boolean) => void }) {
  const { account, switchTenant } = useAuth();
  const tenants = useQuery({
    queryKey: ['auth', 'tenants', account?.sessionId, account?.tenantId],
    queryFn: () => cairn.tenants(),
    staleTime: 30_000,
  });
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const others = (tenants.data ?? []).filter((t) => !t.current);
  if (others.length === 0) return null;

  const go = async (t: MyTenant) => {
    setBusy(t.slug);
    setError(null);
    onBusy?.(true);
    try {
      await switchTenant(t.slug);
    } catch (e) {
      setError(problemMessage(e));
      setBusy(null);
      onBusy?.(false);
    }
  };
  return (
    <div className="tenant-switcher">
      <p className="menu-heading" id="tenant-switcher-heading">Switch organisation</p>
      {error && <p role="alert" className="field-error">{error}</p>}
      <ul aria-labelledby="tenant-switcher-heading">
        {others.map((t) => (
          <li key={t.id}>
            <Button variant="ghost" size="small" busy={busy === t.slug} disabled={disabled || (busy !== null && busy !== t.slug)}
              onClick={() => go(t)}>
              {t.name}<span className="visually-hidden"> ({t.slug}, {t.role})</span>
            </Button>
          </li>
        ))}
      </ul>
    </div>
  );
}
