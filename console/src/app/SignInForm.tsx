// Sign-in: tenant, e-mail and password; then, only when the server asks for it, the
// authenticator's code or a recovery code. Used by the sign-in page and, with the account
// fixed, by the dialog that signs in again after the session ended.
import { useState } from 'react';
import { z } from 'zod';
import { cairn } from '../lib/sdk';
import { isProblem, problemMessage } from '../lib/problem';
import { applyProblem, useZodForm } from '../lib/forms';
import { Button } from '../ui/Button';
import { Field, FormError, TextInput } from '../ui/Field';

const TENANT_KEY = 'cairn.console.tenant';

const credentialsSchema = z.object({
  tenant: z.string().trim().min(1, 'Enter your organisation'),
  email: z.email('Enter an e-mail address like name@example.com'),
  password: z.string().min(1, 'Enter your password'),
});

const codeSchema = z.object({
  code: z.string().trim().regex(/^\d{6}$/, 'Enter the 6-digit code from your authenticator app'),
});

const recoverySchema = z.object({
  recovery: z.string().trim().min(1, 'Enter one of your recovery codes'),
});

export interface SignInFormProps {
  /** Called once signed in. */
  onSignedIn: () => void | Promise<void>;
  /** Sign in only as this account (the expiry dialog): the fields are shown read-only. */
  fixed?: { tenant: string | null; email: string | null };
  /** Start at the MFA step with this challenge (a tenant switch that asked for the code). */
  initialChallenge?: string | null;
}

function storedTenant(): string {
  try { return localStorage.getItem(TENANT_KEY) ?? ''; } catch { return ''; }
}

export function SignInForm({ onSignedIn, fixed, initialChallenge }: SignInFormProps) {
  const [challenge, setChallenge] = useState<string | null>(initialChallenge ?? null);
  const [notice, setNotice] = useState<string | null>(null);
  // what was typed before the MFA step, for when it has to start again
  const [last, setLast] = useState<{ tenant: string; email: string } | null>(null);
  if (challenge) {
    return (
      <MfaStep challenge={challenge} onSignedIn={onSignedIn}
        onRestart={(message) => { setChallenge(null); setNotice(message); }} />
    );
  }
  return (
    <CredentialsStep fixed={fixed} last={last} notice={notice} onSignedIn={onSignedIn}
      onChallenge={(c, who) => { setNotice(null); setLast(who); setChallenge(c); }} />
  );
}

function CredentialsStep({ fixed, last, notice, onChallenge, onSignedIn }: {
  fixed?: SignInFormProps['fixed']; last: { tenant: string; email: string } | null; notice: string | null;
  onChallenge: (c: string, who: { tenant: string; email: string }) => void; onSignedIn: SignInFormProps['onSignedIn'];
}) {
  const form = useZodForm(credentialsSchema, {
    defaultValues: { tenant: fixed?.tenant ?? last?.tenant ?? storedTenant(), email: fixed?.email ?? last?.email ?? '', password: '' },
  });
  const { register, handleSubmit, formState: { errors, isSubmitting } } = form;
  const submit = handleSubmit(async (v) => {
    try {
      const r = await cairn.login({ tenant: v.tenant, email: v.email, password: v.password });
      try { localStorage.setItem(TENANT_KEY, v.tenant); } catch { /* private mode */ }
      if (r.mfaRequired) onChallenge(r.challenge, { tenant: v.tenant, email: v.email });
      else await onSignedIn();
    } catch (e) {
      form.resetField('password', { keepError: false });
      applyProblem(form, e);
    }
  });
  return (
    <form onSubmit={submit} noValidate aria-label="Sign in">
      {notice && <div className="notice notice-warning" role="alert"><p>{notice}</p></div>}
      <FormError form={form} />
      <Field label="Organisation" error={errors.tenant?.message} hint={fixed ? undefined : 'The short name of your organisation, e.g. acme'}>
        <TextInput autoComplete="organization" readOnly={!!fixed?.tenant} {...register('tenant')} />
      </Field>
      <Field label="E-mail" error={errors.email?.message}>
        <TextInput type="email" autoComplete="username" readOnly={!!fixed?.email} {...register('email')} />
      </Field>
      <Field label="Password" error={errors.password?.message}>
        <TextInput type="password" autoComplete="current-password" autoFocus={!!fixed} {...register('password')} />
      </Field>
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={isSubmitting}>Sign in</Button>
      </div>
    </form>
  );
}

function MfaStep({ challenge, onSignedIn, onRestart }: {
  challenge: string; onSignedIn: SignInFormProps['onSignedIn']; onRestart: (message: string) => void;
}) {
  const [useRecovery, setUseRecovery] = useState(false);
  return useRecovery
    ? <RecoveryForm challenge={challenge} onSignedIn={onSignedIn} onRestart={onRestart} onSwitch={() => setUseRecovery(false)} />
    : <CodeForm challenge={challenge} onSignedIn={onSignedIn} onRestart={onRestart} onSwitch={() => setUseRecovery(true)} />;
}

interface StepProps {
  challenge: string;
  onSignedIn: SignInFormProps['onSignedIn'];
  onRestart: (message: string) => void;
  onSwitch: () => void;
}

// A challenge allows one attempt (guessing needs the password again each time): after a
// refused code, or an expired challenge, the sign-in starts again from the password.
function restartMessage(e: unknown): string | null {
  return isProblem(e, 401) ? `${problemMessage(e)} Enter your password again.` : null;
}

function CodeForm({ challenge, onSignedIn, onRestart, onSwitch }: StepProps) {
  const form = useZodForm(codeSchema, { defaultValues: { code: '' } });
  const { register, handleSubmit, formState: { errors, isSubmitting } } = form;
  const submit = handleSubmit(async (v) => {
    try {
      await cairn.verifyMfa({ challenge, code: v.code });
      await onSignedIn();
    } catch (e) {
      const restart = restartMessage(e);
      if (restart) return onRestart(restart);
      applyProblem(form, e);
    }
  });
  return (
    <form onSubmit={submit} noValidate aria-label="Two-step verification">
      <h2>Two-step verification</h2>
      <FormError form={form} />
      <Field label="Code from your authenticator app" error={errors.code?.message}>
        <TextInput inputMode="numeric" autoComplete="one-time-code" maxLength={6} autoFocus {...register('code')} />
      </Field>
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={isSubmitting}>Verify</Button>
        <Button variant="link" onClick={onSwitch}>Use a recovery code</Button>
      </div>
    </form>
  );
}

function RecoveryForm({ challenge, onSignedIn, onRestart, onSwitch }: StepProps) {
  const form = useZodForm(recoverySchema, { defaultValues: { recovery: '' } });
  const { register, handleSubmit, formState: { errors, isSubmitting } } = form;
  const submit = handleSubmit(async (v) => {
    try {
      await cairn.verifyMfa({ challenge, recoveryCode: v.recovery });
      await onSignedIn();
    } catch (e) {
      const restart = restartMessage(e);
      if (restart) return onRestart(restart);
      applyProblem(form, e, { recovery_code: 'recovery' });
    }
  });
  return (
    <form onSubmit={submit} noValidate aria-label="Two-step verification">
      <h2>Two-step verification</h2>
      <FormError form={form} />
      <Field label="Recovery code" error={errors.recovery?.message} hint="Each recovery code works once.">
        <TextInput autoComplete="off" autoFocus spellCheck={false} {...register('recovery')} />
      </Field>
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={isSubmitting}>Verify</Button>
        <Button variant="link" onClick={onSwitch}>Use the authenticator app</Button>
      </div>
    </form>
  );
}
