// Over the page when the session has ended: sign in again as the same account, and the
// requests that were waiting go through. The page under it stays mounted.
import { lazy, Suspense } from 'react';
import { Dialog } from '../ui/Dialog';
import { Skeleton } from '../ui/Skeleton';
import { useAuth } from './auth';

const SignInForm = lazy(() => import('./SignInForm').then((m) => ({ default: m.SignInForm })));

export function SessionExpiredDialog() {
  const { expired, finishReauth } = useAuth();
  return (
    <Dialog open={expired !== null} title="Your session has ended" onClose={() => void finishReauth(false)}>
      <p>Sign in again to continue where you were; nothing you typed is lost.</p>
      {expired && (
        <Suspense fallback={<Skeleton lines={6} />}>
          <SignInForm fixed={{ tenant: expired.tenantSlug, email: expired.email }} onSignedIn={() => finishReauth(true)} />
        </Suspense>
      )}
    </Dialog>
  );
}
