// Over the page when the session has ended: sign in again as the same account, and the
// requests that were waiting go through. The page under it stays mounted.
import { Dialog } from '../ui';
import { SignInForm } from './SignInForm';
import { useAuth } from './auth';

export function SessionExpiredDialog() {
  const { expired, finishReauth } = useAuth();
  return (
    <Dialog open={expired !== null} title="Your session has ended" onClose={() => void finishReauth(false)}>
      <p>Sign in again to continue where you were; nothing you typed is lost.</p>
      {expired && (
        <SignInForm fixed={{ tenant: expired.tenantSlug, email: expired.email }} onSignedIn={() => finishReauth(true)} />
      )}
    </Dialog>
  );
}
