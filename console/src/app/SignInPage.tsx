// What a signed-out visitor sees at any address but a public page's (a section's
// publicRoutes: the password reset and registration pages): the sign-in, which stays at the
// address asked for, so that page opens after it. After a tenant switch that needs the
// second factor, the sign-in starts at the MFA step.
import { useEffect } from 'react';
import { Link } from 'wouter';
import { SignInForm } from './SignInForm';
import { useAuth } from './auth';

export default function SignInPage() {
  const { completeSignIn, pendingMfa } = useAuth();
  useEffect(() => { document.title = 'Sign in · Cairn console'; }, []);
  return (
    <main id="main" className="signin-page">
      <div className="card signin-card">
        <h1>Sign in to Cairn</h1>
        {pendingMfa && (
          <p className="muted">Your organisation <strong>{pendingMfa.tenant}</strong> asks for two-step verification.</p>
        )}
        <SignInForm key={pendingMfa?.challenge ?? 'signin'} onSignedIn={completeSignIn} initialChallenge={pendingMfa?.challenge} />
        <p className="signin-aside"><Link href="/forgot-password">Forgotten your password?</Link></p>
      </div>
    </main>
  );
}
