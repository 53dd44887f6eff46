import { useEffect, useState } from 'react';
import { useAuth } from '../../app/auth';
import { problemMessage } from '../../lib/problem';
import { Button, PageHeader } from '../../ui';
import { MfaCard } from './MfaCard';
import { PasswordCard } from './PasswordCard';
import './account.css';

function SessionsCard() {
  const { signOutEverywhere } = useAuth();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await signOutEverywhere();
    } catch (e) {
      setError(problemMessage(e));
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">Sessions</h2>
      <p>Signed in on a computer you no longer use, or a lost phone? End every session of your account in this
        organisation, this one included; you then sign in again here.</p>
      {error && <p role="alert" className="field-error">{error}</p>}
      <div className="form-actions">
        <Button variant="danger" busy={busy} onClick={run}>Sign out everywhere</Button>
      </div>
    </section>
  );
}

export default function SecurityPage() {
  useEffect(() => { document.title = 'Security · Cairn console'; }, []);
  return (
    <>
      <PageHeader title="Security" />
      <div className="stack account-page">
        <MfaCard />
        <PasswordCard />
        <SessionsCard />
      </div>
    </>
  );
}
