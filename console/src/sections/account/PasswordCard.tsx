import { z } from 'zod';
import { API, cairn } from '../../lib/sdk';
import { useApiMutation } from '../../lib/query';
import { applyProblem, useZodForm } from '../../lib/forms';
import { Button, Field, FormError, TextInput, useToast } from '../../ui';

const schema = z.object({
  current_password: z.string().min(1, 'Enter your current password'),
  new_password: z.string().min(1, 'Choose a new password'),
  confirm: z.string(),
}).refine((v) => v.new_password === v.confirm, { path: ['confirm'], message: 'The two passwords differ' });

export function PasswordCard() {
  const toast = useToast();
  const form = useZodForm(schema, { defaultValues: { current_password: '', new_password: '', confirm: '' } });
  const { register, handleSubmit, reset, formState: { errors } } = form;
  const change = useApiMutation((v: { current_password: string; new_password: string }) => cairn.post(`${API}/auth/password`, v));
  const submit = handleSubmit(async ({ current_password, new_password }) => {
    try {
      await change.mutateAsync({ current_password, new_password });
      reset();
      toast('Password changed; your other sessions have ended');
    } catch (e) {
      applyProblem(form, e);
    }
  });
  return (
    <section className="card" aria-labelledby="account-password">
      <h2 id="account-password">Password</h2>
      <form onSubmit={submit} noValidate aria-labelledby="account-password">
        <FormError form={form} />
        <Field label="Current password" error={errors.current_password?.message}>
          <TextInput type="password" autoComplete="current-password" {...register('current_password')} />
        </Field>
        <Field label="New password" error={errors.new_password?.message} hint="At least 12 characters; not a common password.">
          <TextInput type="password" autoComplete="new-password" {...register('new_password')} />
        </Field>
        <Field label="New password again" error={errors.confirm?.message}>
          <TextInput type="password" autoComplete="new-password" {...register('confirm')} />
        </Field>
        <Button type="submit" variant="primary" busy={change.isPending}>Change the password</Button>
      </form>
    </section>
  );
}
