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
        <p className="signin-links"><Link href="/reset">Forgot your password?</Link></p>
      </div>
    </main>
  );
}
