// The access section's API: types of the answers (from the SDK's generated schemas), query
// keys, and small helpers shared by the pages.
import type { components } from '@cairn/sdk';
import { API } from '../../lib/sdk';

type Schemas = components['schemas'];
export type Member = Schemas['Member'];
export type Role = Schemas['Role'];
export type Permission = Schemas['Permission'];
export type ApiKey = Schemas['ApiKey'];
export type ApiKeyCreated = Schemas['ApiKeyCreated'];
export type Unlocked = Schemas['Unlocked'];

export const MEMBERS = ['access', 'members'];
export const ROLES = ['access', 'roles'];
export const PERMISSIONS = ['access', 'permissions'];
export const API_KEYS = ['access', 'api-keys'];

export const paths = {
  members: `${API}/users`,
  member: (id: string) => `${API}/users/${encodeURIComponent(id)}`,
  unlock: (id: string) => `${API}/users/${encodeURIComponent(id)}/unlock`,
  roles: `${API}/roles`,
  role: (name: string) => `${API}/roles/${encodeURIComponent(name)}`,
  permissions: `${API}/permissions`,
  apiKeys: `${API}/api-keys`,
  apiKey: (id: string) => `${API}/api-keys/${encodeURIComponent(id)}`,
};

/** A key's state at `now`: revoked, expired or active. */
export function keyState(key: Pick<ApiKey, 'revoked_at' | 'expires_at'>, now = Date.now()): 'revoked' | 'expired' | 'active' {
  if (key.revoked_at != null) return 'revoked';
  if (key.expires_at != null && key.expires_at <= now) return 'expired';
  return 'active';
}

/** Permissions grouped by module, in the catalogue's order (module order, then as declared). */
export function groupByModule(perms: readonly Permission[]): { module: string; permissions: Permission[] }[] {
  const groups = new Map<string, Permission[]>();
  for (const p of perms) {
    const g = groups.get(p.module);
    if (g) g.push(p);
    else groups.set(p.module, [p]);
  }
  return [...groups].map(([module, permissions]) => ({ module, permissions }));
}
