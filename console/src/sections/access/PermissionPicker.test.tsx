import { useState } from 'react';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { PermissionPicker } from './PermissionPicker';
import type { Permission } from './api';

const CATALOGUE: Permission[] = [
  { name: 'notes.read', description: 'Read notes', module: 'notes', roles: ['owner', 'admin', 'member', 'viewer'] },
  { name: 'notes.write', description: 'Write notes', module: 'notes', roles: ['owner', 'admin', 'member'] },
  { name: 'api_keys.manage', description: 'Create, list and revoke API keys', module: 'auth', roles: ['owner', 'admin'] },
  { name: 'platform.tenants', description: 'Every tenant (operator only)', module: 'auth', roles: [] },
  { name: 'users.manage', description: 'Add members', module: 'auth', roles: ['owner', 'admin'] },
  { name: 'self.read', description: 'Read one\'s own profile', module: 'auth', roles: ['owner', 'admin', 'member', 'viewer'] },
];

function Harness({ canGrant, onChange }: { canGrant?: (p: string) => boolean; onChange?: (v: string[]) => void }) {
  const [value, setValue] = useState<string[]>([]);
  return (
    <PermissionPicker legend="Permissions of the role" catalogue={CATALOGUE} value={value} canGrant={canGrant}
      onChange={(v) => { setValue(v); onChange?.(v); }} />
  );
}

describe('PermissionPicker', () => {
  test('groups by module with descriptions; leaves out operator-only and self.* permissions', () => {
    render(<Harness />);
    const notes = screen.getByRole('group', { name: 'notes' });
    expect(within(notes).getAllByRole('checkbox').map((c) => c.id.split('-').pop())).toEqual(['notes.read', 'notes.write']);
    const auth = screen.getByRole('group', { name: 'auth' });
    expect(within(auth).getAllByRole('checkbox')).toHaveLength(2);
    expect(screen.queryByText('platform.tenants')).toBeNull();
    expect(screen.queryByText('self.read')).toBeNull();
    const write = screen.getByRole('checkbox', { name: /notes\.write/ });
    expect(document.getElementById(write.getAttribute('aria-describedby')!)?.textContent).toBe('Write notes');
  });

  test('choosing gives the names in the catalogue order; choose all and clear per module', async () => {
    const user = userEvent.setup();
    const changes: string[][] = [];
    render(<Harness onChange={(v) => changes.push(v)} />);
    await user.click(screen.getByRole('checkbox', { name: /users\.manage/ }));
    await user.click(screen.getByRole('checkbox', { name: /notes\.read/ }));
    expect(changes.at(-1)).toEqual(['notes.read', 'users.manage']);
    expect(screen.getByText('2 permissions chosen')).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Choose all of auth' }));
    expect(changes.at(-1)).toEqual(['notes.read', 'api_keys.manage', 'users.manage']);
    await user.click(screen.getByRole('button', { name: 'Clear auth' }));
    expect(changes.at(-1)).toEqual(['notes.read']);
    await user.click(screen.getByRole('checkbox', { name: /notes\.read/ }));
    expect(changes.at(-1)).toEqual([]);
    expect(screen.getByText('0 permissions chosen')).toBeTruthy();
  });

  test('a permission the user does not hold is shown, disabled, and never chosen by "choose all"', async () => {
    const user = userEvent.setup();
    const changes: string[][] = [];
    render(<Harness canGrant={(p) => p !== 'users.manage'} onChange={(v) => changes.push(v)} />);
    const held = screen.getByRole('checkbox', { name: /users\.manage/ });
    expect((held as HTMLInputElement).disabled).toBe(true);
    expect(document.getElementById(held.getAttribute('aria-describedby')!)?.textContent).toMatch(/your role does not hold it/);
    // one grantable permission left in auth: no "choose all" button for it
    expect(screen.queryByRole('button', { name: /auth$/ })).toBeNull();
    await user.click(screen.getByRole('button', { name: 'Choose all of notes' }));
    expect(changes.at(-1)).toEqual(['notes.read', 'notes.write']);
  });

  test('an error is announced and tied to the group', () => {
    render(<PermissionPicker legend="Permissions" catalogue={CATALOGUE} value={[]} onChange={() => {}} error="Choose at least one permission" />);
    const alert = screen.getByRole('alert');
    expect(alert.textContent).toBe('Choose at least one permission');
    const group = screen.getByRole('group', { name: 'Permissions' });
    expect(group.getAttribute('aria-invalid')).toBe('true');
    expect(group.getAttribute('aria-describedby')?.split(' ')).toContain(alert.id);
  });
});
