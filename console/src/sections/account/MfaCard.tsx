// Two-step verification: enrol (a new secret, its QR code drawn here and the secret as text
// for typing in), confirm with the app's first code, then the recovery codes, once.
import { useState } from 'react';
import { z } from 'zod';
import { cairn, API } from '../../lib/sdk';
import { isProblem, problemMessage } from '../../lib/problem';
import { applyProblem, useZodForm } from '../../lib/forms';
import { useAccount, useAuth } from '../../app/auth';
import { Button, Field, FormError, TextInput } from '../../ui';
import { QrCode } from '../../ui/QrCode';
import { RecoveryCodes } from './RecoveryCodes';

interface Enrolment { secret: string; otpauth_uri: string }

type Step =
  | { kind: 'start'; already?: boolean; error?: string }
  | { kind: 'scan'; enrolment: Enrolment }
  | { kind: 'codes'; codes: string[] }
  | { kind: 'on' };

const codeSchema = z.object({
  code: z.string().trim().regex(/^\d{6}$/, 'Enter the 6-digit code from your authenticator app'),
});

/** The base32 secret in groups of four, easier to type. */
export function groupSecret(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, '$1 ');
}

export function MfaCard() {
  const account = useAccount();
  const { markMfaEnabled } = useAuth();
  const [step, setStep] = useState<Step>(account.mfa ? { kind: 'on' } : { kind: 'start' });
  const [busy, setBusy] = useState(false);

  const enrol = async () => {
    setBusy(true);
    try {
      setStep({ kind: 'scan', enrolment: await cairn.post<Enrolment>(`${API}/auth/mfa/enroll`) });
    } catch (e) {
      // already on (enrolled from another session): nothing to set up
      if (isProblem(e, 409)) markMfaEnabled();
      setStep(isProblem(e, 409) ? { kind: 'on' } : { kind: 'start', error: problemMessage(e) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="mfa-heading">
      <h2 id="mfa-heading">Two-step verification</h2>
      {step.kind === 'on' && (
        <p className="status-on" role="status">Two-step verification is on: signing in asks for a code from your authenticator app
          (or a recovery code).</p>
      )}
      {step.kind === 'start' && (
        <>
          <p>Protect your account with a code from an authenticator app (such as Aegis, Google Authenticator or 1Password)
            each time you sign in.</p>
          {step.error && <p role="alert" className="field-error">{step.error}</p>}
          <div className="form-actions">
            <Button variant="primary" busy={busy} onClick={enrol}>Set up two-step verification</Button>
          </div>
        </>
      )}
      {step.kind === 'scan' && (
        <ScanStep enrolment={step.enrolment} onCancel={() => setStep({ kind: 'start' })}
          onConfirmed={(codes) => { setStep({ kind: 'codes', codes }); markMfaEnabled(); }} />
      )}
      {step.kind === 'codes' && (
        <RecoveryCodes codes={step.codes} who={account.email ?? 'your account'} onDone={() => setStep({ kind: 'on' })} />
      )}
    </section>
  );
}

function ScanStep({ enrolment, onConfirmed, onCancel }: {
  enrolment: Enrolment; onConfirmed: (codes: string[]) => void; onCancel: () => void;
}) {
  const form = useZodForm(codeSchema, { defaultValues: { code: '' } });
  const { register, handleSubmit, formState: { errors, isSubmitting } } = form;
  const submit = handleSubmit(async (v) => {
    try {
      const r = await cairn.post<{ recovery_codes: string[] }>(`${API}/auth/mfa/confirm`, { code: v.code });
      onConfirmed(r.recovery_codes);
    } catch (e) {
      applyProblem(form, e);
    }
  });
  return (
    <div className="mfa-scan">
      <ol className="steps">
        <li>Scan this code with your authenticator app.
          <div className="qr-frame"><QrCode text={enrolment.otpauth_uri} label="QR code to add Cairn to your authenticator app" /></div>
        </li>
        <li>Or, if you cannot scan, type this key into the app (time-based, 6 digits):
          <p><code className="mfa-secret" aria-label="Secret key">{groupSecret(enrolment.secret)}</code></p>
        </li>
        <li>Enter the code the app shows to finish.</li>
      </ol>
      <form onSubmit={submit} noValidate aria-label="Confirm two-step verification">
        <FormError form={form} />
        <Field label="Code from your authenticator app" error={errors.code?.message}>
          <TextInput inputMode="numeric" autoComplete="one-time-code" maxLength={6} {...register('code')} />
        </Field>
        <div className="form-actions">
          <Button type="submit" variant="primary" busy={isSubmitting}>Turn on</Button>
          <Button variant="ghost" onClick={onCancel}>Cancel</Button>
        </div>
      </form>
    </div>
  );
}
