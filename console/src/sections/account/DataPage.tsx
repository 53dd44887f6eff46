// One's own data (GDPR): download everything held about the account as JSON, or delete
// the account after a confirmation that names it.
import { useEffect, useRef, useState } from 'react';
import { cairn, API } from '../../lib/sdk';
import { problemMessage } from '../../lib/problem';
import { useAccount, useAuth } from '../../app/auth';
import { Button, Dialog, Field, PageHeader, TextInput } from '../../ui';
import './account.css';

/** Saves `text` as a file named `name` through a Blob URL (no data: URI, no server round trip). */
export function saveFile(text: string, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function ExportCard() {
  const [state, setState] = useState<{ busy?: boolean; done?: boolean; error?: string }>({});
  const run = async () => {
    setState({ busy: true });
    try {
      const data = await cairn.get(`${API}/users/me/export`);
      saveFile(JSON.stringify(data, null, 2), 'cairn-my-data.json', 'application/json');
      setState({ done: true });
    } catch (e) {
      setState({ error: problemMessage(e) });
    }
  };
  return (
    <section className="card" aria-labelledby="export-heading">
      <h2 id="export-heading">Download your data</h2>
      <p>One JSON file with everything held about you: your account, memberships and roles, sessions, the API keys
        you created and the audit entries of your actions.</p>
      {state.error && <p role="alert" className="field-error">{state.error}</p>}
      <p role="status" className="muted">{state.done ? 'Downloaded cairn-my-data.json.' : ''}</p>
      <div className="form-actions">
        <Button busy={state.busy} onClick={run}>Download my data</Button>
      </div>
    </section>
  );
}

function DeleteCard() {
  const account = useAccount();
  const { signOut } = useAuth();
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const expected = account.email ?? '';
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await cairn.delete(`${API}/users/me`);
      await signOut();
    } catch (e) {
      setError(problemMessage(e));
      setBusy(false);
    }
  };
  return (
    <section className="card danger-zone" aria-labelledby="delete-heading">
      <h2 id="delete-heading">Delete your account</h2>
      <p>Your account is removed from every organisation, your sessions end, and the audit log keeps its entries
        with your name erased. This cannot be undone.</p>
      <div className="form-actions">
        <Button variant="danger" onClick={() => { setOpen(true); setTyped(''); setError(null); }}>Delete my account…</Button>
      </div>
      <Dialog open={open} title="Delete your account?" onClose={() => !busy && setOpen(false)}>
        <p>This deletes <strong>{expected}</strong> in every organisation. Type your e-mail address to confirm.</p>
        {error && <p role="alert" className="field-error">{error}</p>}
        <Field label="Your e-mail address">
          <TextInput ref={input} type="email" autoComplete="off" value={typed} onChange={(e) => setTyped(e.target.value)} />
        </Field>
        <div className="form-actions">
          <Button variant="danger" busy={busy} disabled={typed.trim().toLowerCase() !== expected.toLowerCase() || !expected}
            onClick={run}>Delete my account</Button>
          <Button variant="ghost" disabled={busy} onClick={() => setOpen(false)}>Cancel</Button>
        </div>
      </Dialog>
    </section>
  );
}

export default function DataPage() {
  useEffect(() => { document.title = 'Your data · Cairn console'; }, []);
  return (
    <>
      <PageHeader title="Your data" />
      <div className="stack account-page">
        <ExportCard />
        <DeleteCard />
      </div>
    </>
  );
}
