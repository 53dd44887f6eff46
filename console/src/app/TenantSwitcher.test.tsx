import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { CairnError } from '@cairn/sdk';
import { cairn } from '../lib/sdk';
import { TenantSwitcher } from './TenantSwitcher';

const { switchTenant } = vi.hoisted(() => ({ switchTenant: vi.fn() }));
vi.mock('./auth', () => ({
  useAuth: () => ({ account: { sessionId: 's1', tenantId: 't1' }, switchTenant }),
}));

const T = (slug: string, current = false) => ({ id: `id-${slug}`, slug, name: `${slug.toUpperCase()} Ltd`, role: 'owner', current });

function renderIt() {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(<QueryClientProvider client={qc}><TenantSwitcher /></QueryClientProvider>);
}

describe('TenantSwitcher', () => {
  test('nothing for an account in one tenant', async () => {
    const tenants = vi.spyOn(cairn, 'tenants').mockResolvedValue([T('alpha', true)]);
    const { container } = renderIt();
    await waitFor(() => expect(tenants).toHaveBeenCalled());
    expect(container.textContent).toBe('');
  });

  test('one button per other tenant; a refused switch says why and changes nothing', async () => {
    vi.spyOn(cairn, 'tenants').mockResolvedValue([T('alpha', true), T('beta'), T('gamma')]);
    switchTenant.mockRejectedValueOnce(new CairnError({ status: 404, detail: 'no such tenant' })).mockResolvedValueOnce(undefined);
    const user = userEvent.setup();
    renderIt();
    const list = await screen.findByRole('list', { name: 'Switch organisation' });
    expect([...list.querySelectorAll('button')].map((b) => b.textContent)).toEqual(['BETA Ltd (beta, owner)', 'GAMMA Ltd (gamma, owner)']);
    await user.click(screen.getByRole('button', { name: /BETA Ltd/ }));
    expect(await screen.findByRole('alert')).toBeTruthy();
    expect(switchTenant).toHaveBeenCalledWith('beta');
    await user.click(screen.getByRole('button', { name: /GAMMA Ltd/ }));
    expect(switchTenant).toHaveBeenLastCalledWith('gamma');
  }, 30_000);
});
