import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { CairnError } from '@cairn/sdk';
import { cairn } from '../../lib/sdk';
import { TenantForm, TimeZoneForm, tenantPatch, timeZones } from './SettingsForms';
import type { Tenant } from './types';

const TENANT: Tenant = {
  id: '01a20282-0000-7000-8000-000000000001', slug: 'acme', name: 'Acme Ltd', mfa_required_for_admins: false,
  allow_registration: false, registration_requires_confirmation: true, created_at: 1_796_000_000_000,
};

// jsdom on a busy machine: each of these renders forms (one with 400 options) several times
vi.setConfig({ testTimeout: 20_000 });

function withQuery(ui: React.ReactElement) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(<QueryClientProvider client={qc}>{ui}</QueryClientProvider>);
}

const invalid = (errors: { field: string; message: string }[]) => new CairnError({
  status: 422, type: 'urn:cairn:problem:validation-failed', title: 'Unprocessable Content',
  detail: 'the body does not match the schema', errors,
});

describe('tenant settings form', () => {
  test("sends only what changed, and the API's field errors show under their fields", async () => {
    const patch = vi.spyOn(cairn, 'patch').mockRejectedValueOnce(invalid([{ field: 'name', message: 'must be a single line' }]));
    const user = userEvent.setup();
    withQuery(<TenantForm tenant={TENANT} sessionHasMfa />);
    const name = screen.getByLabelText('Name');
    await user.clear(name);
    await user.click(name);
    await user.paste('Acme Group');
    await user.click(screen.getByLabelText('Owners and admins must sign in with a second factor'));
    expect(screen.getByRole('status').textContent).toBe('Unsaved changes');
    await user.click(screen.getByRole('button', { name: 'Save settings' }));

    await waitFor(() => expect(name.getAttribute('aria-invalid')).toBe('true'));
    expect(patch).toHaveBeenCalledWith('/api/v1/tenant', { name: 'Acme Group', mfa_required_for_admins: true });
    expect(document.getElementById(name.getAttribute('aria-describedby')!)?.textContent).toBe('must be a single line');
    expect(screen.queryByRole('alert')).toBeNull(); // it found its field
    expect(document.activeElement).toBe(name);
  });

  test('a problem naming no field shows its detail above the form; a save shows when it was saved', async () => {
    vi.spyOn(cairn, 'patch')
      .mockRejectedValueOnce(new CairnError({ status: 403, detail: 'owners and admins must sign in with a second factor' }))
      .mockResolvedValueOnce({ ...TENANT, allow_registration: true });
    const user = userEvent.setup();
    withQuery(<TenantForm tenant={TENANT} sessionHasMfa />);
    await user.click(screen.getByLabelText('Anyone may create an account here (as a member)'));
    await user.click(screen.getByRole('button', { name: 'Save settings' }));
    expect((await screen.findByRole('alert')).textContent).toBe('Owners and admins must sign in with a second factor.');

    await user.click(screen.getByRole('button', { name: 'Save settings' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toMatch(/^Saved at /));
    expect(screen.getByRole('button', { name: 'Save settings' }).hasAttribute('disabled')).toBe(true);
    expect((screen.getByLabelText('Anyone may create an account here (as a member)') as HTMLInputElement).checked).toBe(true);
  });

  test('turning the MFA policy on from a session without a second factor warns first', async () => {
    const user = userEvent.setup();
    withQuery(<TenantForm tenant={TENANT} sessionHasMfa={false} />);
    expect(screen.queryByRole('alert')).toBeNull();
    await user.click(screen.getByLabelText('Owners and admins must sign in with a second factor'));
    expect(screen.getByRole('alert').textContent).toMatch(/without a second factor/);
  });

  test("the server's default for confirmation is sent as null", () => {
    const v = { name: 'x', mfa_required_for_admins: false, allow_registration: true, registration_requires_confirmation: 'server' as const };
    expect(tenantPatch(v, { registration_requires_confirmation: true })).toEqual({ registration_requires_confirmation: null });
    expect(tenantPatch({ ...v, registration_requires_confirmation: 'off' }, { registration_requires_confirmation: true, allow_registration: true }))
      .toEqual({ allow_registration: true, registration_requires_confirmation: false });
  });
});

describe('time zone form', () => {
  test('the list is searchable, the choice is saved, and a refused zone shows under the field', async () => {
    const put = vi.spyOn(cairn, 'put')
      .mockRejectedValueOnce(invalid([{ field: 'timezone', message: 'is not an IANA time zone name' }]))
      .mockResolvedValueOnce({ timezone: 'Asia/Tokyo' });
    const user = userEvent.setup();
    withQuery(<TimeZoneForm settings={{ timezone: 'UTC' }} canEdit />);
    const list = screen.getByLabelText('Time zone') as HTMLSelectElement;
    expect(within(list).getAllByRole('option').length).toBe(timeZones().length);
    await user.click(screen.getByLabelText('Search time zones'));
    await user.paste('tokyo');
    expect(within(list).getAllByRole('option').map((o) => o.getAttribute('value'))).toEqual(['UTC', 'Asia/Tokyo']); // the current one stays
    await user.selectOptions(list, 'Asia/Tokyo');
    await user.click(screen.getByRole('button', { name: 'Save time zone' }));
    await waitFor(() => expect(list.getAttribute('aria-invalid')).toBe('true'));
    expect(screen.getByText('is not an IANA time zone name')).toBeTruthy();

    await user.click(screen.getByRole('button', { name: 'Save time zone' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toMatch(/^Saved at /));
    expect(put).toHaveBeenLastCalledWith('/api/v1/insights/settings', { timezone: 'Asia/Tokyo' });
    expect(list.value).toBe('Asia/Tokyo');
  });
});
