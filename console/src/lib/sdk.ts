// The console's one SDK client. It runs in cookie mode: the HttpOnly session cookies carry
// the session, unsafe requests send the CSRF token, and a session that ends while the page
// is open asks the shell to sign in again (see app/auth.tsx) instead of failing.
import { CairnClient, CairnError } from '@cairn/sdk';

export { CairnClient, CairnError };
export type { Session, RealtimeEvent, RealtimeState, MyTenant } from '@cairn/sdk';

/** The API prefix; sections write paths as `${API}/things`. */
export const API = '/api/v1';

type Reauthenticate = () => Promise<boolean>;
let reauthenticate: Reauthenticate | null = null;

/** The shell installs the prompt that signs the user in again when the session ends. */
export function setReauthenticate(fn: Reauthenticate | null): void {
  reauthenticate = fn;
}

export const cairn = new CairnClient({
  baseUrl: typeof location === 'undefined' ? 'http://localhost' : location.origin,
  cookie: true,
  reauthenticate: () => (reauthenticate ? reauthenticate() : Promise.resolve(false)),
});
