import { useEffect } from 'react';
import { SignInForm } from './SignInForm';
import { useAuth } from './auth';

export default function SignInPage() {
  const { completeSignIn } = useAuth();
  useEffect(() => { document.title = 'Sign in · Cairn console'; }, []);
  return (
    <main id="main" className="signin-page">
      <div className="card signin-card">
        <h1>Sign in to Cairn</h1>
        <SignInForm onSignedIn={completeSignIn} />
      </div>
    </main>
  );
}
