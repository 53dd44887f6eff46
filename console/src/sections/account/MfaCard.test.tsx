import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { CairnError } from '@cairn/sdk';
import { cairn } from '../../lib/sdk';
import { MfaCard, groupSecret } from './MfaCard';

const { markMfaEnabled } = vi.hoisted(() => ({ markMfaEnabled: vi.fn() }));
vi.mock('../../app/auth', () => ({
  useAccount: () => ({ email: 'kim@acme.test', mfa: false }),
  useAuth: () => ({ markMfaEnabled }),
}));

const ENROL = { secret: 'JBSWY3DPEHPK3PXPJBSWY3DP', otpauth_uri: 'otpauth://totp/Cairn:kim@acme.test?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=Cairn' };

beforeEach(() => {
  URL.createObjectURL = vi.fn(() => 'blob:test/1');
  URL.revokeObjectURL = vi.fn();
});

describe('MfaCard', () => {
  test('enrol: the QR code and the secret as text, a wrong code inline, then the recovery codes, then on', async () => {
    const post = vi.spyOn(cairn, 'post')
      .mockResolvedValueOnce(ENROL)
      .mockRejectedValueOnce(new CairnError({ status: 422, detail: 'the code is wrong', errors: [{ field: 'code', message: 'the code is wrong' }] }))
      .mockResolvedValueOnce({ mfa_enabled: true, recovery_codes: ['aaaa-1', 'bbbb-2'] });
    const user = userEvent.setup();
    render(<MfaCard />);
    await user.click(screen.getByRole('button', { name: 'Set up two-step verification' }));
    expect(await screen.findByRole('img', { name: /QR code/ })).toBeTruthy();
    expect(screen.getByLabelText('Secret key').textContent).toBe('JBSW Y3DP EHPK 3PXP JBSW Y3DP');
    await user.type(screen.getByLabelText('Code from your authenticator app'), '123456');
    await user.click(screen.getByRole('button', { name: 'Turn on' }));
    expect(await screen.findByText('the code is wrong')).toBeTruthy();
    await user.clear(screen.getByLabelText('Code from your authenticator app'));
    await user.type(screen.getByLabelText('Code from your authenticator app'), '654321');
    await user.click(screen.getByRole('button', { name: 'Turn on' }));
    expect(await screen.findByRole('heading', { name: 'Store your recovery codes now' })).toBeTruthy();
    expect(post).toHaveBeenLastCalledWith('/api/v1/auth/mfa/confirm', { code: '654321' });
    await user.click(screen.getByLabelText('I have stored these codes somewhere safe'));
    await user.click(screen.getByRole('button', { name: 'Done' }));
    await waitFor(() => expect(screen.getByText(/Two-step verification is on/)).toBeTruthy());
    expect(screen.queryByText('aaaa-1')).toBeNull();
    expect(markMfaEnabled).toHaveBeenCalled();
  }, 30_000);

  test('already enabled elsewhere (409): says it is on', async () => {
    vi.spyOn(cairn, 'post').mockRejectedValueOnce(new CairnError({ status: 409, detail: 'MFA is already enabled for this account' }));
    const user = userEvent.setup();
    render(<MfaCard />);
    await user.click(screen.getByRole('button', { name: 'Set up two-step verification' }));
    expect(await screen.findByText(/Two-step verification is on/)).toBeTruthy();
  });

  test('groupSecret splits the key in fours', () => {
    expect(groupSecret('ABCDEFGHIJ')).toBe('ABCD EFGH IJ');
    expect(groupSecret('ABCDEFGH')).toBe('ABCD EFGH');
  });
});
