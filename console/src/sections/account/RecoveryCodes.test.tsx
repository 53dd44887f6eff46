import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { RECOVERY_FILE, RecoveryCodes, recoveryText } from './RecoveryCodes';

const CODES = ['abcd-efgh-1', 'ijkl-mnop-2', 'qrst-uvwx-3'];

let blobs: Blob[];
beforeEach(() => {
  blobs = [];
  URL.createObjectURL = vi.fn((b: Blob) => { blobs.push(b); return `blob:test/${blobs.length}`; });
  URL.revokeObjectURL = vi.fn();
});

describe('RecoveryCodes', () => {
  test('shows every code once, and Done only after the user says they stored them', async () => {
    const done = vi.fn();
    const user = userEvent.setup();
    render(<RecoveryCodes codes={CODES} who="kim@acme.test" onDone={done} />);
    expect(screen.getByRole('heading', { name: 'Store your recovery codes now' })).toBeTruthy();
    const list = screen.getByRole('list', { name: 'Recovery codes' });
    expect([...list.querySelectorAll('li')].map((li) => li.textContent)).toEqual(CODES);
    const finish = screen.getByRole('button', { name: 'Done' }) as HTMLButtonElement;
    expect(finish.disabled).toBe(true);
    await user.click(finish);
    expect(done).not.toHaveBeenCalled();
    await user.click(screen.getByLabelText('I have stored these codes somewhere safe'));
    expect(finish.disabled).toBe(false);
    await user.click(finish);
    expect(done).toHaveBeenCalledOnce();
  });

  test('downloads a text file through a Blob URL holding the codes', async () => {
    render(<RecoveryCodes codes={CODES} who="kim@acme.test" onDone={() => {}} />);
    const link = screen.getByRole('link', { name: 'Download as a text file' });
    expect(link.getAttribute('download')).toBe(RECOVERY_FILE);
    expect(link.getAttribute('href')).toMatch(/^blob:/);
    expect(blobs).toHaveLength(1);
    expect(blobs[0].type).toBe('text/plain;charset=utf-8');
    const text = await new Promise<string>((resolve) => {
      const r = new FileReader(); // jsdom's Blob has no text()
      r.onload = () => resolve(String(r.result));
      r.readAsText(blobs[0]);
    });
    expect(text).toBe(recoveryText(CODES, 'kim@acme.test'));
    for (const c of CODES) expect(text.split('\n')).toContain(c);
  });

  test('copies the codes, and says so; a refused clipboard says what to do instead', async () => {
    const user = userEvent.setup();
    const writeText = vi.fn().mockResolvedValueOnce(undefined).mockRejectedValueOnce(new Error('denied'));
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    render(<RecoveryCodes codes={CODES} who="kim@acme.test" onDone={() => {}} />);
    await user.click(screen.getByRole('button', { name: 'Copy codes' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('Copied to the clipboard.'));
    expect(writeText).toHaveBeenCalledWith(recoveryText(CODES, 'kim@acme.test'));
    await user.click(screen.getByRole('button', { name: 'Copy codes' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toMatch(/not allowed here/));
  });
});
