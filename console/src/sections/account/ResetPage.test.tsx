import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Router } from 'wouter';
import { memoryLocation } from 'wouter/memory-location';
import { CairnError } from '@cairn/sdk';
import { cairn } from '../../lib/sdk';
import ResetPage from './ResetPage';

// the form is named "New password" too: the input of that label
const newPassword = () => screen.getAllByLabelText('New password').find((e) => e.tagName === 'INPUT')!;

function renderAt(path: string) {
  const { hook, searchHook } = memoryLocation({ path });
  return render(<Router hook={hook} searchHook={searchHook}><ResetPage /></Router>);
}

describe('ResetPage', () => {
  test('without a token: the request, the same answer for anyone, then a code pasted from a bare mail sets the password', async () => {
    const post = vi.spyOn(cairn, 'post').mockResolvedValueOnce({ status: 'accepted' }).mockResolvedValueOnce(undefined);
    const user = userEvent.setup();
    renderAt('/forgot-password');
    const ask = screen.getByRole('form', { name: 'Forgotten password' });
    await user.type(screen.getByLabelText('Organisation'), 'acme');
    await user.type(screen.getByLabelText('E-mail'), 'kim@acme.test');
    await user.click(screen.getByRole('button', { name: 'Send the link' }));
    await screen.findByText(/is on its way/);
    expect(ask.isConnected).toBe(false);
    expect(post).toHaveBeenCalledWith('/api/v1/auth/password/reset-request', { tenant: 'acme', email: 'kim@acme.test' }, { reauth: false });

    await user.type(screen.getByLabelText('Code from the e-mail'), ' tok-123 ');
    await user.click(screen.getByRole('button', { name: 'Continue' }));
    await user.type(newPassword(), 'amber-Falcon-31-harbour');
    await user.type(screen.getByLabelText('New password again'), 'amber-Falcon-31-harbour');
    await user.click(screen.getByRole('button', { name: 'Set the password' }));
    await screen.findByText(/Your password is changed/);
    expect(post).toHaveBeenLastCalledWith('/api/v1/auth/password/reset', { token: 'tok-123', new_password: 'amber-Falcon-31-harbour' }, { reauth: false });
  }, 30_000);

  test('with ?token=: the policy\'s error on the field; a spent token offers a new link', async () => {
    vi.spyOn(cairn, 'post')
      .mockRejectedValueOnce(new CairnError({ status: 422, detail: 'invalid', errors: [{ field: 'new_password', message: 'is too short' }] }))
      .mockRejectedValueOnce(new CairnError({ status: 422, detail: 'invalid', errors: [{ field: 'token', message: 'is unknown, used or expired' }] }));
    const user = userEvent.setup();
    renderAt('/reset-password?token=abc');
    await user.type(newPassword(), 'short');
    await user.type(screen.getByLabelText('New password again'), 'short');
    await user.click(screen.getByRole('button', { name: 'Set the password' }));
    await screen.findByText('is too short');
    expect(newPassword().getAttribute('aria-invalid')).toBe('true');
    await user.click(screen.getByRole('button', { name: 'Set the password' }));
    await waitFor(() => expect(screen.getByRole('link', { name: 'Ask for a new link' })).toBeTruthy());
  }, 30_000);
});
