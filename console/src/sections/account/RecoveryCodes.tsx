// The recovery codes, shown once right after two-step verification is turned on: the user
// copies or downloads them (a text file from a Blob URL) and says they stored them before
// the step can be left — the server never shows them again.
import { useEffect, useId, useMemo, useState } from 'react';
import { Button } from '../../ui';

export const RECOVERY_FILE = 'cairn-recovery-codes.txt';

/** The text file's content: a line of context, then one code per line. */
export function recoveryText(codes: string[], who: string): string {
  return [`Cairn recovery codes for ${who}`, 'Each code signs you in once, instead of the authenticator app.', '',
    ...codes, ''].join('\n');
}

export function RecoveryCodes({ codes, who, onDone }: { codes: string[]; who: string; onDone: () => void }) {
  const [stored, setStored] = useState(false);
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const headingId = useId();
  const checkId = useId();
  const text = useMemo(() => recoveryText(codes, who), [codes, who]);
  const url = useMemo(() => URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' })), [text]);
  useEffect(() => () => URL.revokeObjectURL(url), [url]);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <section className="recovery" aria-labelledby={headingId}>
      <h3 id={headingId}>Store your recovery codes now</h3>
      <div className="notice notice-warning">
        <p>If you lose your phone, each of these codes signs you in once. <strong>They are shown only this once</strong>:
          copy them into a password manager or download them, and keep them safe.</p>
      </div>
      <ol className="recovery-codes" aria-label="Recovery codes">
        {codes.map((c) => <li key={c}><code>{c}</code></li>)}
      </ol>
      <div className="form-actions">
        <Button onClick={copy}>Copy codes</Button>
        <a className="btn" href={url} download={RECOVERY_FILE}>Download as a text file</a>
      </div>
      <p className="recovery-copied" role="status">
        {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'failed' ? 'Copying is not allowed here: select the codes, or download them.' : ''}
      </p>
      <div className="checkbox">
        <input id={checkId} type="checkbox" checked={stored} onChange={(e) => setStored(e.target.checked)} />
        <label htmlFor={checkId}>I have stored these codes somewhere safe</label>
      </div>
      <div className="form-actions">
        <Button variant="primary" disabled={!stored} onClick={onDone}>Done</Button>
      </div>
    </section>
  );
}
