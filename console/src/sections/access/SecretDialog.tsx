// The one time an API key's secret is shown: a warning, the key in a read-only field, a copy
// button (the Clipboard API) and, where the clipboard cannot be used (an insecure origin, a
// refused permission), the key selected for the user to copy by hand. It closes only through
// its button, so an Esc pressed by habit does not throw the secret away.
import { useEffect, useRef, useState } from 'react';
import { Button, Dialog } from '../../ui';

/** What the dialog copies with: navigator.clipboard where the page may use it. */
export interface ClipboardLike {
  writeText(text: string): Promise<void>;
}

function defaultClipboard(): ClipboardLike | null {
  return typeof navigator !== 'undefined' && navigator.clipboard && typeof navigator.clipboard.writeText === 'function'
    ? navigator.clipboard : null;
}

export interface SecretDialogProps {
  /** The secret; the dialog is open while it is set. */
  secret: string | null;
  /** What the secret belongs to ("the key “deploy”"). */
  name: string;
  onClose: () => void;
  /** Injected in tests; default navigator.clipboard (null when there is none). */
  clipboard?: ClipboardLike | null;
}

export function SecretDialog({ secret, name, onClose, clipboard }: SecretDialogProps) {
  const board = clipboard === undefined ? defaultClipboard() : clipboard;
  const [copy, setCopy] = useState<'idle' | 'copied' | 'manual'>(board ? 'idle' : 'manual');
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => { setCopy(board ? 'idle' : 'manual'); }, [secret, board]);
  useEffect(() => {
    if (secret && copy === 'manual') field.current?.select();
  }, [secret, copy]);

  const onCopy = async () => {
    if (!secret || !board) return;
    try {
      await board.writeText(secret);
      setCopy('copied');
    } catch {
      setCopy('manual'); // refused: fall back to selecting it
      field.current?.focus();
      field.current?.select();
    }
  };

  return (
    <Dialog open={secret != null} title="Copy the new API key" onClose={onClose} dismissible={false}>
      <div className="notice notice-warning secret-warning">
        <p><strong>This is the only time the key is shown.</strong> Copy it now and keep it in a secret store.
          Cairn keeps only a hash of it and cannot show it again; if it is lost, revoke the key and create a new one.</p>
      </div>
      <p>The secret of {name}:</p>
      <div className="secret-row">
        <label className="visually-hidden" htmlFor="secret-value">API key secret</label>
        <input id="secret-value" ref={field} className="input secret-value" readOnly value={secret ?? ''}
          spellCheck={false} autoComplete="off" aria-describedby="secret-copy-state"
          onFocus={(e) => e.currentTarget.select()} />
        {board && copy !== 'manual' && <Button onClick={() => void onCopy()}>{copy === 'copied' ? 'Copied' : 'Copy'}</Button>}
      </div>
      <p id="secret-copy-state" className="field-hint" role="status">
        {copy === 'copied' ? 'The key is on the clipboard.'
          : copy === 'manual' ? 'Copying is not available here: the key is selected, press Ctrl+C (⌘C on a Mac) to copy it.'
            : ''}
      </p>
      <div className="form-actions">
        <Button variant="primary" onClick={onClose}>I have stored the key</Button>
      </div>
    </Dialog>
  );
}
