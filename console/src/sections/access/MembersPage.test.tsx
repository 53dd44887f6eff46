// The role change: shown at once, put back with the API's reason when it is refused.
import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { QueryClientProvider } from '@tanstack/react-query';
import { CairnError } from '@cairn/sdk';
import { AuthProvider, useAuth } from '../../app/auth';
import { cairn } from '../../lib/sdk';
import { queryClient } from '../../lib/query';
import { ToastProvider } from '../../ui';
import MembersPage from './MembersPage';

const ME = '00000000-0000-4000-8000-000000000001';
const NOOR = '00000000-0000-4000-8000-000000000002';
const ROLES = [
  { name: 'owner', builtin: true, permissions: ['users.manage', 'users.read'] },
  { name: 'admin', builtin: true, permissions: ['users.manage', 'users.read'] },
  { name: 'member', builtin: true, permissions: ['users.read'] },
];

function SignedIn() {
  return useAuth().status === 'signed-in' ? <MembersPage /> : null;
}

function arrange(patch: (path: string, body: unknown) => Promise<unknown>) {
  let noorRole = 'member';
  vi.spyOn(cairn, 'session').mockResolvedValue({ session_id: 's', user_id: ME, tenant_id: 't', role: 'admin', mfa: false } as never);
  vi.spyOn(cairn, 'paginate').mockImplementation((async function* () { yield* ROLES; }) as never);
  vi.spyOn(cairn, 'get').mockImplementation((async (path: string) => {
    if (path.endsWith('/users/me')) return { email: 'adam@crew.test', tenant: { slug: 'crew', name: 'Crew AB' } };
    if (path.endsWith('/roles')) return { items: ROLES, next_cursor: null };
    if (path.endsWith('/users')) {
      return { items: [
        { id: ME, email: 'adam@crew.test', role: 'admin', member_since: 1, locked_until: null },
        { id: NOOR, email: 'noor@crew.test', role: noorRole, member_since: 2, locked_until: null },
      ], next_cursor: null };
    }
    throw new Error(`unexpected GET ${path}`);
  }) as never);
  vi.spyOn(cairn, 'patch').mockImplementation((async (path: string, body: { role: string }) => {
    const r = await patch(path, body);
    noorRole = body.role;
    return r;
  }) as never);
  render(
    <QueryClientProvider client={queryClient}>
      <ToastProvider><AuthProvider><SignedIn /></AuthProvider></ToastProvider>
    </QueryClientProvider>,
  );
}

afterEach(() => {
  vi.restoreAllMocks();
  queryClient.clear();
});

describe('MembersPage role change', () => {
  test('shown before the answer; put back with the detail when refused', async () => {
    let refuse!: (e: unknown) => void;
    arrange(() => new Promise((_, reject) => { refuse = reject; }));
    const user = userEvent.setup();
    const select = await screen.findByLabelText('Role of noor@crew.test') as HTMLSelectElement;
    expect(screen.queryByLabelText('Role of adam@crew.test')).toBeNull(); // not one's own
    await user.selectOptions(select, 'owner');
    // optimistic: the new role shows while the request is still under way
    await waitFor(() => expect((screen.getByLabelText('Role of noor@crew.test') as HTMLSelectElement).value).toBe('owner'));
    expect(cairn.patch).toHaveBeenCalledWith(`/api/v1/users/${NOOR}`, { role: 'owner' });
    refuse(new CairnError({ status: 403, type: 'urn:cairn:problem:forbidden', detail: 'the role owner grants more than the caller holds' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('The role of noor@crew.test was not changed to owner: The role owner grants more than the caller holds.');
    await waitFor(() => expect((screen.getByLabelText('Role of noor@crew.test') as HTMLSelectElement).value).toBe('member'));
  });

  test('kept when the API accepts it', async () => {
    arrange(async (_p, body) => ({ id: NOOR, ...(body as object) }));
    const user = userEvent.setup();
    const select = await screen.findByLabelText('Role of noor@crew.test') as HTMLSelectElement;
    await user.selectOptions(select, 'admin');
    await waitFor(() => expect(cairn.get).toHaveBeenCalledTimes(4)); // refetched after the change
    expect((screen.getByLabelText('Role of noor@crew.test') as HTMLSelectElement).value).toBe('admin');
    expect(screen.queryByRole('alert')).toBeNull();
  });
});
