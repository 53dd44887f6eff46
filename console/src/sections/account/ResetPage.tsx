// Password reset, open without a session (at /reset, /forgot-password and /reset-password:
// the same page). Without a token: ask for the mail (organisation + e-mail; the server
// answers the same whether or not the account exists). With ?token=… (the link in the mail,
// auth.reset_url pointing here) or the token pasted from a mail that carries it bare:
// choose the new password.
import { useEffect, useState } from 'react';
import { Link, useSearch } from 'wouter';
import { z } from 'zod';
import { cairn, API } from '../../lib/sdk';
import { applyProblem, useZodForm } from '../../lib/forms';
import { Button, Field, FormError, TextInput } from '../../ui';
import './account.css';

const TENANT_KEY = 'cairn.console.tenant';

function storedTenant(): string {
  try { return localStorage.getItem(TENANT_KEY) ?? ''; } catch { return ''; }
}

const requestSchema = z.object({
  tenant: z.string().trim().min(1, 'Enter your organisation'),
  email: z.email('Enter an e-mail address like name@example.com'),
});

const tokenSchema = z.object({ token: z.string().trim().min(1, 'Paste the code from the e-mail') });

const newPasswordSchema = z.object({
  token: z.string(),
  next: z.string().min(1, 'Enter a new password'),
  again: z.string(),
}).refine((v) => v.next === v.again, { path: ['again'], message: 'The two passwords differ' });

export default function ResetPage() {
  const search = useSearch();
  const fromLink = new URLSearchParams(search).get('token');
  const [token, setToken] = useState<string | null>(fromLink);
  useEffect(() => { document.title = 'Reset your password · Cairn console'; }, []);
  useEffect(() => { if (fromLink) setToken(fromLink); }, [fromLink]);
  return (
    <div className="card signin-card">
      <h1>Reset your password</h1>
      {token ? <NewPasswordForm token={token} /> : <RequestForm onToken={setToken} />}
      <p className="signin-aside"><Link href="/">Back to sign-in</Link></p>
    </div>
  );
}

function RequestForm({ onToken }: { onToken: (token: string) => void }) {
  const [sentTo, setSentTo] = useState<string | null>(null);
  const form = useZodForm(requestSchema, { defaultValues: { tenant: storedTenant(), email: '' } });
  const { register, handleSubmit, formState: { errors, isSubmitting } } = form;
  const submit = handleSubmit(async (v) => {
    try {
      await cairn.post(`${API}/auth/password/reset-request`, { tenant: v.tenant, email: v.email }, { reauth: false });
      setSentTo(v.email);
    } catch (e) {
      applyProblem(form, e);
    }
  });
  if (sentTo) {
    return (
      <>
        <div className="notice notice-success" role="status">
          <p>If <strong>{sentTo}</strong> has an account in this organisation, a mail with a link to choose a new password
            is on its way. The link works for 30 minutes.</p>
        </div>
        <TokenForm onToken={onToken} />
      </>
    );
  }
  return (
    <form onSubmit={submit} noValidate aria-label="Forgotten password">
      <p>Enter your organisation and e-mail address: we mail you a link to choose a new password.</p>
      <FormError form={form} />
      <Field label="Organisation" error={errors.tenant?.message} hint="The short name of your organisation, e.g. acme">
        <TextInput autoComplete="organization" {...register('tenant')} />
      </Field>
      <Field label="E-mail" error={errors.email?.message}>
        <TextInput type="email" autoComplete="username" {...register('email')} />
      </Field>
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={isSubmitting}>Send the link</Button>
      </div>
    </form>
  );
}

// Servers without a reset page configured mail the token itself.
function TokenForm({ onToken }: { onToken: (token: string) => void }) {
  const form = useZodForm(tokenSchema, { defaultValues: { token: '' } });
  const { register, handleSubmit, formState: { errors } } = form;
  return (
    <form onSubmit={handleSubmit((v) => onToken(v.token))} noValidate aria-label="Enter the code from the e-mail">
      <p className="muted">The mail has a code instead of a link? Paste it here.</p>
      <Field label="Code from the e-mail" error={errors.token?.message}>
        <TextInput autoComplete="off" spellCheck={false} {...register('token')} />
      </Field>
      <div className="form-actions"><Button type="submit">Continue</Button></div>
    </form>
  );
}

function NewPasswordForm({ token }: { token: string }) {
  const [done, setDone] = useState(false);
  const form = useZodForm(newPasswordSchema, { defaultValues: { token, next: '', again: '' } });
  const { register, handleSubmit, formState: { errors, isSubmitting } } = form;
  const submit = handleSubmit(async (v) => {
    try {
      await cairn.post(`${API}/auth/password/reset`, { token, new_password: v.next }, { reauth: false });
      setDone(true);
    } catch (e) {
      applyProblem(form, e, { new_password: 'next' });
    }
  });
  if (done) {
    return (
      <div className="notice notice-success" role="status">
        <p>Your password is changed, and every session of your account has been signed out.</p>
        {/* a full load: whatever session this tab thought it had is over */}
        <p><a href="/console/">Sign in with the new password</a></p>
      </div>
    );
  }
  return (
    <form onSubmit={submit} noValidate aria-label="New password">
      <FormError form={form} />
      {errors.token?.message && (
        <div className="notice notice-error" role="alert">
          <p>{errors.token.message}</p>
          <p><a href="/console/forgot-password">Ask for a new link</a></p>
        </div>
      )}
      <Field label="New password" error={errors.next?.message}
        hint="At least 12 characters; not a common password, not your e-mail address.">
        <TextInput type="password" autoComplete="new-password" autoFocus {...register('next')} />
      </Field>
      <Field label="New password again" error={errors.again?.message}>
        <TextInput type="password" autoComplete="new-password" {...register('again')} />
      </Field>
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={isSubmitting}>Set the password</Button>
      </div>
    </form>
  );
}
