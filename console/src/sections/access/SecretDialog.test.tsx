import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { SecretDialog, type ClipboardLike } from './SecretDialog';

const SECRET = 'cairn_ab12cd34_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';

describe('SecretDialog', () => {
  test('shows the secret once with a warning; Copy puts it on the clipboard', async () => {
    const written: string[] = [];
    const clipboard: ClipboardLike = { writeText: async (t) => { written.push(t); } };
    const user = userEvent.setup();
    render(<SecretDialog secret={SECRET} name="the key “deploy”" onClose={() => {}} clipboard={clipboard} />);
    expect(screen.getByRole('heading', { name: 'Copy the new API key' })).toBeTruthy();
    expect(screen.getByText(/only time the key is shown/)).toBeTruthy();
    const field = screen.getByLabelText('API key secret') as HTMLInputElement;
    expect(field.value).toBe(SECRET);
    expect(field.readOnly).toBe(true);
    await user.click(screen.getByRole('button', { name: 'Copy' }));
    expect(written).toEqual([SECRET]);
    expect(await screen.findByRole('button', { name: 'Copied' })).toBeTruthy();
    expect(screen.getByRole('status').textContent).toBe('The key is on the clipboard.');
  });

  test('without a clipboard: no Copy button, the key is selected with how to copy it', async () => {
    render(<SecretDialog secret={SECRET} name="the key" onClose={() => {}} clipboard={null} />);
    expect(screen.queryByRole('button', { name: 'Copy' })).toBeNull();
    expect(screen.getByRole('status').textContent).toMatch(/press Ctrl\+C/);
    const field = screen.getByLabelText('API key secret') as HTMLInputElement;
    await waitFor(() => expect([field.selectionStart, field.selectionEnd]).toEqual([0, SECRET.length]));
  });

  test('a refused clipboard falls back to the selected field', async () => {
    const clipboard: ClipboardLike = { writeText: () => Promise.reject(new DOMException('denied', 'NotAllowedError')) };
    const user = userEvent.setup();
    render(<SecretDialog secret={SECRET} name="the key" onClose={() => {}} clipboard={clipboard} />);
    await user.click(screen.getByRole('button', { name: 'Copy' }));
    expect(await screen.findByText(/press Ctrl\+C/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Copy' })).toBeNull();
    const field = screen.getByLabelText('API key secret') as HTMLInputElement;
    expect([field.selectionStart, field.selectionEnd]).toEqual([0, SECRET.length]);
  });

  test('Esc does not close it; only the button does', async () => {
    const closed = vi.fn();
    const user = userEvent.setup();
    render(<SecretDialog secret={SECRET} name="the key" onClose={closed} clipboard={null} />);
    const dialog = document.querySelector('dialog')!;
    dialog.dispatchEvent(new Event('cancel', { cancelable: true }));
    expect(closed).not.toHaveBeenCalled();
    await user.click(screen.getByRole('button', { name: 'I have stored the key' }));
    expect(closed).toHaveBeenCalledOnce();
  });

  test('closed when there is no secret', () => {
    render(<SecretDialog secret={null} name="the key" onClose={() => {}} clipboard={null} />);
    expect(screen.queryByLabelText('API key secret')).toBeNull();
  });
});
