import { groupByModule, keyState } from './api';
import { expiresAt } from './ApiKeysPage';

describe('access helpers', () => {
  test('a key is revoked, expired or active', () => {
    const now = 1_800_000_000_000;
    expect(keyState({ revoked_at: now - 1, expires_at: null }, now)).toBe('revoked');
    expect(keyState({ revoked_at: now - 1, expires_at: now - 5 }, now)).toBe('revoked');
    expect(keyState({ revoked_at: null, expires_at: now }, now)).toBe('expired');
    expect(keyState({ revoked_at: null, expires_at: now + 1 }, now)).toBe('active');
    expect(keyState({ revoked_at: null, expires_at: null }, now)).toBe('active');
  });

  test('expiry: days from now, the end of a chosen local day, or none', () => {
    const now = Date.UTC(2026, 11, 7, 12);
    expect(expiresAt({ expiry: '30', expires_on: '' }, now)).toBe(now + 30 * 86_400_000);
    expect(expiresAt({ expiry: 'never', expires_on: '' }, now)).toBeUndefined();
    expect(expiresAt({ expiry: 'date', expires_on: '2027-01-31' }, now)).toBe(new Date(2027, 0, 31, 23, 59, 59).getTime());
  });

  test('permissions grouped by module in the order they come', () => {
    const p = (name: string, module: string) => ({ name, module, description: '', roles: ['owner'] });
    expect(groupByModule([p('a.x', 'a'), p('b.x', 'b'), p('a.y', 'a')]).map((g) => [g.module, g.permissions.map((x) => x.name)]))
      .toEqual([['a', ['a.x', 'a.y']], ['b', ['b.x']]]);
  });
});
