// What a signed-out visitor sees: the sign-in, or the forgotten-password pages. Any other
// address shows the sign-in and stays in the bar, so the page asked for opens after it.
import { useEffect, type ReactNode } from 'react';
import { Link, Route, Switch } from 'wouter';
import { SignInForm } from './SignInForm';
import { ForgotPasswordForm, ResetPasswordForm } from './PasswordReset';
import { useAuth } from './auth';

function Card({ title, children }: { title: string; children: ReactNode }) {
  useEffect(() => { document.title = `${title} · Cairn console`; }, [title]);
  return (
    <main id="main" className="signin-page">
      <div className="card signin-card">
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}

export default function SignInPage() {
  const { completeSignIn } = useAuth();
  return (
    <Switch>
      <Route path="/forgot-password"><Card title="Forgotten password"><ForgotPasswordForm /></Card></Route>
      <Route path="/reset-password"><Card title="Choose a new password"><ResetPasswordForm /></Card></Route>
      <Route>
        <Card title="Sign in to Cairn">
          <SignInForm onSignedIn={completeSignIn} />
          <p className="signin-aside"><Link href="/forgot-password">Forgotten your password?</Link></p>
        </Card>
      </Route>
    </Switch>
  );
}
