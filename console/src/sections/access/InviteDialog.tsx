// Adding a member (POST /api/v1/users). Cairn sends no invitation mail: an e-mail that has an
// account on this server joins with that account's own password; a new e-mail gets an account
// with the first password set here, which the admin passes on. The dialog says so before and
// after, and what the new member does next.
import { useState } from 'react';
import { Controller } from 'react-hook-form';
import { z } from 'zod';
import { useAccount } from '../../app/auth';
import { cairn } from '../../lib/sdk';
import { useApiMutation } from '../../lib/query';
import { applyProblem, useZodForm } from '../../lib/forms';
import { Button, Dialog, Field, FormError, Select, TextInput } from '../../ui';
import { MEMBERS, paths, type Role } from './api';

const schema = z.object({
  email: z.string().trim().min(1, 'Enter their e-mail address').email('Enter an e-mail address such as ann@example.com'),
  role: z.string().min(1, 'Choose a role'),
  password: z.string(),
});
type Values = z.output<typeof schema>;

const ROLE_HINTS: Record<string, string> = {
  owner: 'everything, including making other owners',
  admin: 'everything in the organisation except owners',
  member: 'reads and writes data, no administration',
  viewer: 'reads only',
};

export function InviteDialog({ open, onClose, roles }: { open: boolean; onClose: () => void; roles: Role[] }) {
  const account = useAccount();
  const [added, setAdded] = useState<{ email: string; role: string; newAccount: boolean } | null>(null);
  const form = useZodForm(schema, { defaultValues: { email: '', role: 'member', password: '' } });
  const { register, handleSubmit, reset, control, formState: { errors } } = form;
  const add = useApiMutation((v: Values) => cairn.post(paths.members,
    v.password ? v : { email: v.email, role: v.role }), { invalidate: [MEMBERS] });
  const close = () => {
    reset();
    setAdded(null);
    onClose();
  };
  const submit = handleSubmit(async (v) => {
    try {
      await add.mutateAsync(v);
      setAdded({ email: v.email, role: v.role, newAccount: v.password !== '' });
    } catch (e) {
      applyProblem(form, e);
    }
  });
  const consoleUrl = typeof location === 'undefined' ? '/console/' : `${location.origin}/console/`;
  return (
    <Dialog open={open} title={added ? 'Member added' : 'Add a member'} onClose={close}>
      {added ? (
        <div className="stack">
          <div className="notice notice-success" role="status">
            <p><strong>{added.email}</strong> is now {added.role === 'admin' || added.role === 'owner' ? 'an' : 'a'} {added.role} of {account.tenantName ?? 'this organisation'}.</p>
          </div>
          <p>What happens next — Cairn sends no e-mail, so tell them:</p>
          <ul>
            <li>to sign in at <code>{consoleUrl}</code> with the organisation <code>{account.tenantSlug ?? ''}</code> and their e-mail;</li>
            {added.newAccount
              ? <li>the first password you set, through a channel only they read; they should change it after signing in (Account → Change password).</li>
              : <li>with the password of their account, if they already had one on this server (yours was not needed and not kept).</li>}
          </ul>
          <div className="form-actions"><Button variant="primary" onClick={close}>Done</Button></div>
        </div>
      ) : (
        <form onSubmit={submit} noValidate aria-label="Add a member">
          <p className="muted">Someone who already has an account on this server joins with their own password. For a new
            e-mail, set a first password: an account is created with it, and you pass it on (no e-mail is sent).</p>
          <FormError form={form} />
          <Field label="E-mail" error={errors.email?.message}>
            <TextInput type="email" autoComplete="off" {...register('email')} />
          </Field>
          <Controller control={control} name="role" render={({ field }) => (
            <Field label="Role" error={errors.role?.message} hint={ROLE_HINTS[field.value] ?? 'a custom role: the permissions it lists'}>
              <Select {...field} options={(roles.length ? roles.map((r) => r.name) : ['member']).map((r) => ({ value: r, label: r }))} />
            </Field>
          )} />
          <Field label="First password (only for a new account)" error={errors.password?.message}
            hint="At least 12 characters, not a common one. Leave empty when the e-mail already has an account.">
            <TextInput type="password" autoComplete="new-password" {...register('password')} />
          </Field>
          <div className="form-actions">
            <Button type="submit" variant="primary" busy={add.isPending}>Add member</Button>
            <Button onClick={close}>Cancel</Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
