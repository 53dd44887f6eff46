// The signed-in user's own account: the password, two-step verification (enrolment with a
// QR code, then the recovery codes, shown once), and signing out everywhere.
import { useAccount, useAuth } from '../../app/auth';
import { Button, PageHeader } from '../../ui';
import { MfaCard } from './MfaCard';
import { PasswordCard } from './PasswordCard';

export default function AccountPage() {
  const account = useAccount();
  const { signOutEverywhere } = useAuth();
  return (
    <>
      <PageHeader title="Your account" />
      <div className="stack">
        <section className="card" aria-labelledby="account-who">
          <h2 id="account-who">{account.email}</h2>
          <p className="muted">{account.role} in {account.tenantName ?? account.tenantSlug}</p>
        </section>
        <PasswordCard />
        <MfaCard enabled={account.mfa} />
        <section className="card" aria-labelledby="account-sessions">
          <h2 id="account-sessions">Sessions</h2>
          <p>Signing out everywhere ends every session of your account in this organisation, this one too.</p>
          <Button variant="danger" onClick={() => void signOutEverywhere()}>Sign out everywhere</Button>
        </section>
      </div>
    </>
  );
}
