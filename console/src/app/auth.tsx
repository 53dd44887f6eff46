// The signed-in state of the page. On load it asks the server whether the session cookies
// still hold a session (so a reload keeps it); signing out ends the session, closes the
// realtime connection and empties the query cache, so the next account sees nothing of the
// last one's data. When the session ends while the page is open, the SDK asks
// `reauthenticate`: the shell shows a sign-in dialog over the page (nothing is unmounted,
// typed input survives) and the waiting requests are retried once signed in again.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { cairn, setReauthenticate, API, type Session } from '../lib/sdk';
import { queryClient } from '../lib/query';
import { closeRealtime, restartRealtime } from '../lib/realtime';
import { canFrom, type Can } from './permissions';

export interface Account {
  sessionId: string;
  userId: string;
  tenantId: string;
  role: string;
  /** The account has two-step verification (the session was opened with it, or it was
   *  turned on since). */
  mfa: boolean;
  email: string | null;
  tenantSlug: string | null;
  tenantName: string | null;
  /** The role's permissions; null when they could not be read (the API then decides). */
  permissions: ReadonlySet<string> | null;
  can: Can;
}

export type AuthStatus = 'loading' | 'signed-out' | 'signed-in';

/** Who the expiry dialog signs in again: the same account, in the same tenant. */
export interface ExpiredSession {
  email: string | null;
  tenantSlug: string | null;
}

export interface AuthContextValue {
  status: AuthStatus;
  account: Account | null;
  /** Set while the session has ended and the sign-in dialog is up. */
  expired: ExpiredSession | null;
  /** Call after a successful sign-in (the form's): loads the account, shows the console. */
  completeSignIn(): Promise<void>;
  /** The expiry dialog signed in again (true) or gave up (false). */
  finishReauth(ok: boolean): Promise<void>;
  signOut(): Promise<void>;
  signOutEverywhere(): Promise<void>;
  /** Two-step verification was turned on for the account (this session was opened without). */
  markMfaEnabled(): void;
}

const AuthContext = createContext<AuthContextValue | null>(null);

interface Me { email: string; tenant: { slug: string; name: string } }
interface Role { name: string; permissions: string[] }

async function loadAccount(session: Session): Promise<Account> {
  const [me, roles] = await Promise.allSettled([
    cairn.get<Me>(`${API}/users/me`),
    (async () => {
      const out: Role[] = [];
      for await (const r of cairn.paginate<Role>(`${API}/roles`)) out.push(r);
      return out;
    })(),
  ]);
  const role = roles.status === 'fulfilled' ? roles.value.find((r) => r.name === session.role) : undefined;
  const permissions = role ? new Set(role.permissions) : null;
  return {
    sessionId: session.session_id,
    userId: session.user_id,
    tenantId: session.tenant_id,
    role: session.role,
    mfa: session.mfa,
    email: me.status === 'fulfilled' ? me.value.email : null,
    tenantSlug: me.status === 'fulfilled' ? me.value.tenant.slug : null,
    tenantName: me.status === 'fulfilled' ? me.value.tenant.name : null,
    permissions,
    can: canFrom(permissions),
  };
}

/** Forgets everything the page learnt while signed in. */
async function forgetData() {
  closeRealtime();
  await queryClient.cancelQueries();
  queryClient.clear();
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<AuthStatus>('loading');
  const [account, setAccount] = useState<Account | null>(null);
  const [expired, setExpired] = useState<ExpiredSession | null>(null);
  const accountRef = useRef<Account | null>(null);
  accountRef.current = account;
  const reauthWaiters = useRef<((ok: boolean) => void)[]>([]);

  const signedOut = useCallback(async () => {
    await forgetData();
    setAccount(null);
    setExpired(null);
    setStatus('signed-out');
    for (const w of reauthWaiters.current.splice(0)) w(false);
  }, []);

  const completeSignIn = useCallback(async () => {
    const session = await cairn.session();
    if (!session) return signedOut();
    const next = await loadAccount(session);
    const prev = accountRef.current;
    // another account signing in where the last one was: start from nothing
    if (prev && (prev.userId !== next.userId || prev.tenantId !== next.tenantId)) await forgetData();
    setAccount(next);
    setStatus('signed-in');
  }, [signedOut]);

  useEffect(() => {
    let live = true;
    cairn.session()
      .then(async (session) => {
        if (!live) return;
        if (!session) return setStatus('signed-out');
        const a = await loadAccount(session);
        if (live) {
          setAccount(a);
          setStatus('signed-in');
        }
      })
      .catch(() => { if (live) setStatus('signed-out'); });
    return () => { live = false; };
  }, []);

  // The session ended with no request waiting (the realtime connection's refresh was
  // refused, say): the same dialog, so the page does not go on showing stale data silently.
  const leaving = useRef(false);
  useEffect(() => cairn.onSession((signedIn) => {
    const a = accountRef.current;
    if (!signedIn && a && !leaving.current) setExpired({ email: a.email, tenantSlug: a.tenantSlug });
  }), []);

  // The session ended under a request: ask the user to sign in again, over the page.
  useEffect(() => {
    setReauthenticate(() => {
      const a = accountRef.current;
      if (!a) return Promise.resolve(false);
      setExpired({ email: a.email, tenantSlug: a.tenantSlug });
      return new Promise<boolean>((resolve) => { reauthWaiters.current.push(resolve); });
    });
    return () => setReauthenticate(null);
  }, []);

  const finishReauth = useCallback(async (ok: boolean) => {
    if (!ok) return signedOut();
    const prev = accountRef.current;
    const session = await cairn.session();
    if (!session || !prev || session.user_id !== prev.userId || session.tenant_id !== prev.tenantId) {
      // not the account whose page this is: nothing of it may stay
      await signedOut();
      if (session) await completeSignIn();
      return;
    }
    setExpired(null);
    restartRealtime();
    for (const w of reauthWaiters.current.splice(0)) w(true);
  }, [signedOut, completeSignIn]);

  const signOut = useCallback(async () => {
    leaving.current = true;
    try { await cairn.logout(); } finally { await signedOut(); leaving.current = false; }
  }, [signedOut]);

  const signOutEverywhere = useCallback(async () => {
    leaving.current = true;
    try { await cairn.logoutAll(); } finally { await signedOut(); leaving.current = false; }
  }, [signedOut]);

  const markMfaEnabled = useCallback(() => setAccount((a) => (a ? { ...a, mfa: true } : a)), []);

  const value = useMemo<AuthContextValue>(() => ({
    status, account, expired, completeSignIn, finishReauth, signOut, signOutEverywhere, markMfaEnabled,
  }), [status, account, expired, completeSignIn, finishReauth, signOut, signOutEverywhere, markMfaEnabled]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

/** The signed-in state: status, account (with `can(permission)`), signOut, … */
export function useAuth(): AuthContextValue {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth outside <AuthProvider>');
  return ctx;
}

/** The signed-in account (for pages: they render only while signed in). */
export function useAccount(): Account {
  const { account } = useAuth();
  if (!account) throw new Error('useAccount while signed out');
  return account;
}
