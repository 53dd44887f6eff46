// Changing one's password: the current one, the new one twice. The server's policy (length,
// common passwords, the e-mail inside it) answers with errors on the new password's field.
import { z } from 'zod';
import { cairn, API } from '../../lib/sdk';
import { isProblem, problemMessage } from '../../lib/problem';
import { applyProblem, useZodForm } from '../../lib/forms';
import { Button, Field, FormError, TextInput, useToast } from '../../ui';

const schema = z.object({
  current: z.string().min(1, 'Enter your current password'),
  next: z.string().min(1, 'Enter a new password'),
  again: z.string(),
}).refine((v) => v.next === v.again, { path: ['again'], message: 'The two new passwords differ' });

export function PasswordCard() {
  const toast = useToast();
  const form = useZodForm(schema, { defaultValues: { current: '', next: '', again: '' } });
  const { register, handleSubmit, reset, formState: { errors, isSubmitting } } = form;
  const submit = handleSubmit(async (v) => {
    try {
      await cairn.post(`${API}/auth/password`, { current_password: v.current, new_password: v.next });
      reset();
      toast('Password changed. Your other sessions have been signed out.');
    } catch (e) {
      if (isProblem(e, 401)) form.setError('current', { type: 'server', message: problemMessage(e) }, { shouldFocus: true });
      else applyProblem(form, e, { current_password: 'current', new_password: 'next' });
    }
  });
  return (
    <section className="card" aria-labelledby="password-heading">
      <h2 id="password-heading">Password</h2>
      <form onSubmit={submit} noValidate aria-label="Change password" className="form-narrow">
        <FormError form={form} />
        <Field label="Current password" error={errors.current?.message}>
          <TextInput type="password" autoComplete="current-password" {...register('current')} />
        </Field>
        <Field label="New password" error={errors.next?.message}
          hint="At least 12 characters; not a common password, not your e-mail address.">
          <TextInput type="password" autoComplete="new-password" {...register('next')} />
        </Field>
        <Field label="New password again" error={errors.again?.message}>
          <TextInput type="password" autoComplete="new-password" {...register('again')} />
        </Field>
        <p className="muted">Changing it signs you out everywhere else.</p>
        <div className="form-actions">
          <Button type="submit" variant="primary" busy={isSubmitting}>Change password</Button>
        </div>
      </form>
    </section>
  );
}
