// Confirming a self-registration, open without a session: the mail's link (auth.register_url
// pointing here) carries ?token=…. A new account chooses its password here and is signed in;
// an existing account joining the organisation confirms with its own password, then signs in.
import { useEffect, useState } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { z } from 'zod';
import { cairn } from '../../lib/sdk';
import { isProblem, problemMessage } from '../../lib/problem';
import { applyProblem, useZodForm } from '../../lib/forms';
import { useAuth } from '../../app/auth';
import { Button, Field, FormError, TextInput } from '../../ui';
import './account.css';

const schema = z.object({
  token: z.string(),
  password: z.string().min(1, 'Enter a password'),
});

export default function ConfirmRegistrationPage() {
  const token = new URLSearchParams(useSearch()).get('token');
  const { completeSignIn } = useAuth();
  const [, navigate] = useLocation();
  const [joined, setJoined] = useState<string | null>(null);
  useEffect(() => { document.title = 'Confirm your registration · Cairn console'; }, []);
  const form = useZodForm(schema, { defaultValues: { token: token ?? '', password: '' } });
  const { register, handleSubmit, formState: { errors, isSubmitting } } = form;
  const submit = handleSubmit(async (v) => {
    try {
      const r = await cairn.confirmRegistration({ token: v.token, password: v.password });
      if (r && r.status === 'joined') {
        setJoined(r.tenant);
        return;
      }
      await completeSignIn();
      navigate('/');
    } catch (e) {
      if (isProblem(e, 401)) form.setError('password', { type: 'server', message: problemMessage(e) }, { shouldFocus: true });
      else applyProblem(form, e);
    }
  });
  return (
    <div className="card signin-card">
      <h1>Confirm your registration</h1>
      {!token ? (
        <div className="notice notice-warning" role="alert">
          <p>This address has no registration code. Open the link from your e-mail again, or register again.</p>
        </div>
      ) : joined ? (
        <div className="notice notice-success" role="status">
          <p>Your account has joined <strong>{joined}</strong>. Sign in to it as usual.</p>
        </div>
      ) : (
        <form onSubmit={submit} noValidate aria-label="Confirm registration">
          <p>Choose the password of your new account. If you already have an account with this e-mail address, enter
            its password instead: the account joins the organisation.</p>
          <FormError form={form} />
          {errors.token?.message && <div className="notice notice-error" role="alert"><p>{errors.token.message}</p></div>}
          <Field label="Password" error={errors.password?.message}
            hint="At least 12 characters; not a common password, not your e-mail address.">
            <TextInput type="password" autoComplete="new-password" autoFocus {...register('password')} />
          </Field>
          <div className="form-actions">
            <Button type="submit" variant="primary" busy={isSubmitting}>Confirm</Button>
          </div>
        </form>
      )}
      <p className="signin-aside"><Link href="/">Go to sign-in</Link></p>
    </div>
  );
}
