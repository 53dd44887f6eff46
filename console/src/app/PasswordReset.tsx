// Signed-out pages for a forgotten password: ask for a mailed link (/forgot-password), and
// choose a new password from that link (/reset-password?token=…; point the server's
// auth.reset_url at https://<host>/console/reset-password).
import { useState } from 'react';
import { Link, useSearchParams } from 'wouter';
import { z } from 'zod';
import { API, cairn } from '../lib/sdk';
import { applyProblem, useZodForm } from '../lib/forms';
import { Button } from '../ui/Button';
import { Field, FormError, TextInput } from '../ui/Field';

const requestSchema = z.object({
  tenant: z.string().trim().min(1, 'Enter your organisation'),
  email: z.email('Enter an e-mail address like name@example.com'),
});

export function ForgotPasswordForm() {
  const [sentTo, setSentTo] = useState<string | null>(null);
  const form = useZodForm(requestSchema, { defaultValues: { tenant: '', email: '' } });
  const { register, handleSubmit, formState: { errors, isSubmitting } } = form;
  const submit = handleSubmit(async (v) => {
    try {
      await cairn.post(`${API}/auth/password/reset-request`, v, { reauth: false });
      setSentTo(v.email);
    } catch (e) {
      applyProblem(form, e);
    }
  });
  if (sentTo) {
    return (
      <div role="status">
        <p>If <strong>{sentTo}</strong> has an account there, a link to choose a new password is on its way. It works for 30 minutes.</p>
        <p><Link href="/">Back to sign-in</Link></p>
      </div>
    );
  }
  return (
    <form onSubmit={submit} noValidate aria-label="Forgotten password">
      <p>We will e-mail you a link to choose a new password.</p>
      <FormError form={form} />
      <Field label="Organisation" error={errors.tenant?.message}>
        <TextInput autoComplete="organization" {...register('tenant')} />
      </Field>
      <Field label="E-mail" error={errors.email?.message}>
        <TextInput type="email" autoComplete="username" {...register('email')} />
      </Field>
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={isSubmitting}>Send the link</Button>
        <Link href="/">Back to sign-in</Link>
      </div>
    </form>
  );
}

const resetSchema = z.object({
  password: z.string().min(1, 'Choose a password'),
  confirm: z.string(),
}).refine((v) => v.password === v.confirm, { path: ['confirm'], message: 'The two passwords differ' });

export function ResetPasswordForm() {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const [done, setDone] = useState(false);
  const form = useZodForm(resetSchema, { defaultValues: { password: '', confirm: '' } });
  const { register, handleSubmit, formState: { errors, isSubmitting } } = form;
  const submit = handleSubmit(async (v) => {
    try {
      await cairn.post(`${API}/auth/password/reset`, { token, new_password: v.password }, { reauth: false });
      setDone(true);
    } catch (e) {
      applyProblem(form, e, { new_password: 'password' });
    }
  });
  if (!token) {
    return (
      <div className="notice notice-warning" role="alert">
        <p>This address lacks the token of the e-mailed link. Open the link from the mail again, or <Link href="/forgot-password">ask for a new one</Link>.</p>
      </div>
    );
  }
  if (done) {
    return (
      <div role="status">
        <p>Your password is changed, and every session of your account has ended.</p>
        <p><Link href="/">Sign in with the new password</Link></p>
      </div>
    );
  }
  return (
    <form onSubmit={submit} noValidate aria-label="New password">
      <FormError form={form} />
      <Field label="New password" error={errors.password?.message} hint="At least 12 characters; not a common password.">
        <TextInput type="password" autoComplete="new-password" {...register('password')} />
      </Field>
      <Field label="New password again" error={errors.confirm?.message}>
        <TextInput type="password" autoComplete="new-password" {...register('confirm')} />
      </Field>
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={isSubmitting}>Set the password</Button>
      </div>
    </form>
  );
}
