import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { CairnError } from '@cairn/sdk';
import { cairn } from '../lib/sdk';
import { SignInForm } from './SignInForm';

async function fillCredentials(user: ReturnType<typeof userEvent.setup>) {
  await user.clear(screen.getByLabelText('Organisation'));
  await user.type(screen.getByLabelText('Organisation'), 'acme');
  await user.type(screen.getByLabelText('E-mail'), 'kim@acme.test');
  await user.type(screen.getByLabelText('Password'), 'vivid-Otter-42-lantern');
  await user.click(screen.getByRole('button', { name: 'Sign in' }));
}

describe('SignInForm', () => {
  test('no code field when the server does not ask for one', async () => {
    const login = vi.spyOn(cairn, 'login').mockResolvedValue({ mfaRequired: false, tokens: null });
    const signedIn = vi.fn();
    const user = userEvent.setup();
    render(<SignInForm onSignedIn={signedIn} />);
    expect(screen.queryByLabelText(/code/i)).toBeNull();
    await fillCredentials(user);
    await waitFor(() => expect(signedIn).toHaveBeenCalledOnce());
    expect(login).toHaveBeenCalledWith({ tenant: 'acme', email: 'kim@acme.test', password: 'vivid-Otter-42-lantern' });
    expect(screen.queryByLabelText(/code/i)).toBeNull();
  });

  test('the MFA step: the code field appears when asked; a refused code starts again from the password; a recovery code can be used', async () => {
    const login = vi.spyOn(cairn, 'login')
      .mockResolvedValueOnce({ mfaRequired: true, challenge: 'ch-1', expiresIn: 300 })
      .mockResolvedValueOnce({ mfaRequired: true, challenge: 'ch-2', expiresIn: 300 });
    const verify = vi.spyOn(cairn, 'verifyMfa')
      .mockRejectedValueOnce(new CairnError({ status: 401, type: 'urn:cairn:problem:unauthorized', detail: 'the code is wrong' }))
      .mockResolvedValueOnce({ mfaRequired: false, tokens: null });
    const signedIn = vi.fn();
    const user = userEvent.setup();
    render(<SignInForm onSignedIn={signedIn} />);
    await fillCredentials(user);

    const code = await screen.findByLabelText('Code from your authenticator app');
    expect(screen.queryByLabelText('Password')).toBeNull();
    await user.type(code, '12345');
    await user.click(screen.getByRole('button', { name: 'Verify' }));
    expect(await screen.findByText('Enter the 6-digit code from your authenticator app')).toBeTruthy();
    expect(verify).not.toHaveBeenCalled(); // checked before asking

    await user.type(screen.getByLabelText('Code from your authenticator app'), '6');
    await user.click(screen.getByRole('button', { name: 'Verify' }));
    expect(verify).toHaveBeenLastCalledWith({ challenge: 'ch-1', code: '123456' });
    // one attempt per challenge: back to the password, the rest of what was typed kept
    expect((await screen.findByRole('alert')).textContent).toBe('The code is wrong. Enter your password again.');
    expect((screen.getByLabelText('E-mail') as HTMLInputElement).value).toBe('kim@acme.test');
    await user.type(screen.getByLabelText('Password'), 'vivid-Otter-42-lantern');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(login).toHaveBeenCalledTimes(2);

    await user.click(await screen.findByRole('button', { name: 'Use a recovery code' }));
    await user.type(screen.getByLabelText('Recovery code'), 'abcd-efgh');
    await user.click(screen.getByRole('button', { name: 'Verify' }));
    await waitFor(() => expect(signedIn).toHaveBeenCalledOnce());
    expect(verify).toHaveBeenLastCalledWith({ challenge: 'ch-2', recoveryCode: 'abcd-efgh' });
  });

  test('a lockout says how long to wait', async () => {
    vi.spyOn(cairn, 'login').mockRejectedValue(new CairnError({
      status: 429, type: 'urn:cairn:problem:rate-limited', detail: 'too many failed sign-ins', retryAfter: 120,
    }));
    const user = userEvent.setup();
    render(<SignInForm onSignedIn={vi.fn()} />);
    await fillCredentials(user);
    expect((await screen.findByRole('alert')).textContent).toMatch(/^Too many failed sign-ins\. Try again in 2 minutes\.$/);
  });

  test('the expiry dialog signs in only as the same account', () => {
    render(<SignInForm onSignedIn={vi.fn()} fixed={{ tenant: 'acme', email: 'kim@acme.test' }} />);
    expect((screen.getByLabelText('Organisation') as HTMLInputElement).readOnly).toBe(true);
    expect((screen.getByLabelText('E-mail') as HTMLInputElement).value).toBe('kim@acme.test');
    expect((screen.getByLabelText('E-mail') as HTMLInputElement).readOnly).toBe(true);
  });
});
