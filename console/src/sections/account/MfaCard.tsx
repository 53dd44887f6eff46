import { useState } from 'react';
import { z } from 'zod';
import { API, cairn } from '../../lib/sdk';
import { useApiMutation } from '../../lib/query';
import { applyProblem, useZodForm } from '../../lib/forms';
import { useAuth } from '../../app/auth';
import { Button, ErrorNotice, Field, FormError, TextInput } from '../../ui';
import { QrCode } from '../../ui/QrCode';

interface Enrolment { secret: string; otpauth_uri: string }

const codeSchema = z.object({ code: z.string().trim().regex(/^\d{6}$/, 'Enter the 6-digit code from your authenticator app') });

export function MfaCard({ enabled }: { enabled: boolean }) {
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [recovery, setRecovery] = useState<string[] | null>(null);
  const { markMfaEnabled } = useAuth();
  const enrol = useApiMutation(() => cairn.post<Enrolment>(`${API}/auth/mfa/enroll`), { onSuccess: setEnrolment });
  return (
    <section className="card" aria-labelledby="account-mfa">
      <h2 id="account-mfa">Two-step verification</h2>
      {recovery ? <RecoveryCodes codes={recovery} />
        : enrolment ? <ConfirmStep enrolment={enrolment} onConfirmed={(codes) => { setRecovery(codes); markMfaEnabled(); }} />
          : enabled ? <p>On: signing in asks for a code from your authenticator app.</p>
            : (
              <>
                <p>Off. With it on, signing in also asks for a code from an authenticator app on your phone.</p>
                {enrol.error && <ErrorNotice error={enrol.error} />}
                <Button variant="primary" busy={enrol.isPending} onClick={() => enrol.mutate()}>Set up two-step verification</Button>
              </>
            )}
    </section>
  );
}

function ConfirmStep({ enrolment, onConfirmed }: { enrolment: Enrolment; onConfirmed: (codes: string[]) => void }) {
  const form = useZodForm(codeSchema, { defaultValues: { code: '' } });
  const { register, handleSubmit, formState: { errors, isSubmitting } } = form;
  const submit = handleSubmit(async (v) => {
    try {
      const r = await cairn.post<{ recovery_codes: string[] }>(`${API}/auth/mfa/confirm`, v);
      onConfirmed(r.recovery_codes);
    } catch (e) {
      applyProblem(form, e);
    }
  });
  return (
    <div className="stack">
      <p>Scan this code with your authenticator app, then enter the code it shows.</p>
      <QrCode text={enrolment.otpauth_uri} label="QR code for your authenticator app" />
      <p className="muted">Cannot scan? Enter this key by hand: <code className="secret">{enrolment.secret}</code></p>
      <form onSubmit={submit} noValidate aria-label="Confirm two-step verification">
        <FormError form={form} />
        <Field label="Code from your authenticator app" error={errors.code?.message}>
          <TextInput inputMode="numeric" autoComplete="one-time-code" maxLength={6} {...register('code')} />
        </Field>
        <Button type="submit" variant="primary" busy={isSubmitting}>Turn on</Button>
      </form>
    </div>
  );
}

function RecoveryCodes({ codes }: { codes: string[] }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="stack">
      <div className="notice notice-success" role="status"><p>Two-step verification is on.</p></div>
      <p>Keep these recovery codes somewhere safe: each signs you in once if you lose your phone. They are shown only now.</p>
      <ul className="recovery-codes" aria-label="Recovery codes">
        {codes.map((c) => <li key={c}><code>{c}</code></li>)}
      </ul>
      <Button onClick={() => void navigator.clipboard?.writeText(codes.join('\n')).then(() => setCopied(true))}>
        {copied ? 'Copied' : 'Copy the codes'}
      </Button>
    </div>
  );
}
