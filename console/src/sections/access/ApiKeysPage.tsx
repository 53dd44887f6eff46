// API keys: the list (last use, expiry, state), creating a key with its permissions and an
// expiry — its secret shown once — and revoking one.
import { useState } from 'react';
import { Controller } from 'react-hook-form';
import { z } from 'zod';
import { useAccount } from '../../app/auth';
import { cairn } from '../../lib/sdk';
import { useApiMutation, useCursorQuery } from '../../lib/query';
import { applyProblem, useZodForm } from '../../lib/forms';
import { formatDate, formatDateTime, formatRelative } from '../../lib/format';
import { Button, DataTable, Dialog, EmptyState, ErrorNotice, Field, FormError, PageHeader, Select, Skeleton, TextInput, useToast, type ColumnDef } from '../../ui';
import { ConfirmDialog } from './ConfirmDialog';
import { forbiddenPage } from './Forbidden';
import { PermissionPicker } from './PermissionPicker';
import { PermissionChips, usePermissionCatalogue } from './parts';
import { SecretDialog } from './SecretDialog';
import { API_KEYS, keyState, paths, type ApiKey, type ApiKeyCreated } from './api';
import './access.css';

const STATE_LABEL = { active: 'Active', expired: 'Expired', revoked: 'Revoked' } as const;

export default function ApiKeysPage() {
  const toast = useToast();
  const keys = useCursorQuery<ApiKey>(API_KEYS, paths.apiKeys, {}, 25);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const revoke = useApiMutation((k: ApiKey) => cairn.delete(paths.apiKey(k.id)), { invalidate: [API_KEYS] });

  const forbidden = forbiddenPage(keys.error);
  if (forbidden) return forbidden;

  const columns: ColumnDef<ApiKey, any>[] = [
    { accessorKey: 'name', header: 'Name' },
    { accessorKey: 'prefix', header: 'Prefix', cell: (c) => <code>{c.getValue<string>()}</code> },
    { accessorKey: 'permissions', header: 'Permissions', enableSorting: false, cell: (c) => <PermissionChips names={c.getValue<string[]>()} max={4} of={`the key ${c.row.original.name}`} /> },
    { accessorKey: 'created_at', header: 'Created', cell: (c) => formatDate(c.getValue<number>()) },
    { accessorKey: 'last_used_at', header: 'Last used', cell: (c) => {
      const v = c.getValue<number | null>();
      return v == null ? <span className="muted">never</span> : <time dateTime={new Date(v).toISOString()} title={formatDateTime(v)}>{formatRelative(v)}</time>;
    } },
    { accessorKey: 'expires_at', header: 'Expires', cell: (c) => {
      const v = c.getValue<number | null>();
      return v == null ? <span className="muted">never</span> : formatDateTime(v);
    } },
    { id: 'state', header: 'State', accessorFn: (k) => keyState(k), cell: (c) => {
      const s = c.getValue<keyof typeof STATE_LABEL>();
      return <span className={`badge badge-${s}`}>{STATE_LABEL[s]}</span>;
    } },
    { id: 'actions', header: 'Actions', enableSorting: false, enableHiding: false, cell: (c) => (
      c.row.original.revoked_at != null ? null
        : <Button size="small" variant="danger" onClick={() => setRevoking(c.row.original)} aria-label={`Revoke key ${c.row.original.name}`}>Revoke</Button>
    ) },
  ];

  return (
    <>
      <PageHeader title="API keys">
        <Button variant="primary" onClick={() => setCreating(true)}>Create API key</Button>
      </PageHeader>
      <p className="muted page-intro">Keys let servers and scripts call the API as this organisation, with exactly the
        permissions given to them. Send a key as <code>X-Api-Key: cairn_…</code> or <code>Authorization: Bearer cairn_…</code>.
        Revoking one takes effect on its next request.</p>
      <DataTable caption="API keys" columns={columns} data={keys.items} loading={keys.isLoading} error={keys.error}
        onRetry={() => void keys.refetch()} pagination={keys.pager} getRowId={(k) => k.id} initialHidden={['prefix']}
        empty={<EmptyState title="No API keys yet" action={<Button onClick={() => setCreating(true)}>Create API key</Button>}>
          Create a key for each server or script that calls the API, with only the permissions it needs.</EmptyState>} />
      <CreateKeyDialog open={creating} onClose={() => setCreating(false)} onCreated={(k) => { setCreating(false); setCreated(k); }} />
      <SecretDialog secret={created?.key ?? null} name={`the key “${created?.name ?? ''}”`} onClose={() => setCreated(null)} />
      <ConfirmDialog open={revoking != null} title={`Revoke the key ${revoking?.name ?? ''}?`} confirmLabel="Revoke key"
        onClose={() => setRevoking(null)}
        onConfirm={async () => {
          if (!revoking) return;
          await revoke.mutateAsync(revoking);
          toast(`The key ${revoking.name} was revoked.`);
        }}>
        <p>Every request with this key is refused from now on. This cannot be undone: whoever uses it needs a new key.</p>
      </ConfirmDialog>
    </>
  );
}

const DAY = 24 * 3600e3;
const EXPIRY = [
  { value: '30', label: 'In 30 days' },
  { value: '90', label: 'In 90 days' },
  { value: '365', label: 'In a year' },
  { value: 'date', label: 'On a date…' },
  { value: 'never', label: 'Never' },
];

const keySchema = z.object({
  name: z.string().trim().min(1, 'Name the key after what uses it').max(100, 'At most 100 characters'),
  permissions: z.array(z.string()).min(1, 'Choose at least one permission'),
  expiry: z.string(),
  expires_on: z.string(),
}).superRefine((v, ctx) => {
  if (v.expiry !== 'date') return;
  const at = Date.parse(`${v.expires_on}T23:59:59`);
  if (!v.expires_on || Number.isNaN(at)) ctx.addIssue({ code: 'custom', path: ['expires_on'], message: 'Choose the last day the key works' });
  else if (at <= Date.now()) ctx.addIssue({ code: 'custom', path: ['expires_on'], message: 'Choose a day in the future' });
});
type KeyValues = z.output<typeof keySchema>;

/** expires_at (Unix ms) for the form's choice; undefined: never. The end of the chosen day, local time. */
export function expiresAt(v: Pick<KeyValues, 'expiry' | 'expires_on'>, now = Date.now()): number | undefined {
  if (v.expiry === 'never') return undefined;
  if (v.expiry === 'date') return Date.parse(`${v.expires_on}T23:59:59`);
  return now + Number(v.expiry) * DAY;
}

function CreateKeyDialog({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (k: ApiKeyCreated) => void }) {
  const account = useAccount();
  const catalogue = usePermissionCatalogue();
  const form = useZodForm(keySchema, { defaultValues: { name: '', permissions: [], expiry: '90', expires_on: '' } });
  const { register, handleSubmit, reset, control, watch, formState: { errors } } = form;
  const create = useApiMutation((v: KeyValues) => cairn.post<ApiKeyCreated>(paths.apiKeys, {
    name: v.name, permissions: v.permissions, ...(expiresAt(v) != null ? { expires_at: expiresAt(v) } : {}),
  }), { invalidate: [API_KEYS] });
  const close = () => {
    reset();
    onClose();
  };
  const submit = handleSubmit(async (v) => {
    try {
      const k = await create.mutateAsync(v);
      reset();
      onCreated(k);
    } catch (e) {
      applyProblem(form, e, { expires_at: 'expires_on' });
    }
  });
  const permError = errors.permissions?.message
    ?? (Array.isArray(errors.permissions) ? errors.permissions.map((x) => x?.message).filter(Boolean).join('; ') : undefined);
  const expiry = watch('expiry');
  return (
    <Dialog open={open} title="Create an API key" onClose={close}>
      <form onSubmit={submit} noValidate aria-label="Create an API key" className="access-wide">
        <FormError form={form} />
        <Field label="Name" error={errors.name?.message} hint="What uses it, e.g. “billing export”">
          <TextInput autoComplete="off" {...register('name')} />
        </Field>
        <div className="field-row">
          <Field label="Expires" error={errors.expiry?.message}>
            <Select options={EXPIRY} {...register('expiry')} />
          </Field>
          {expiry === 'date' && (
            <Field label="Last day" error={errors.expires_on?.message}>
              <TextInput type="date" {...register('expires_on')} />
            </Field>
          )}
        </div>
        {catalogue.error ? <ErrorNotice error={catalogue.error} onRetry={() => void catalogue.refetch()} />
          : !catalogue.data ? <Skeleton lines={8} /> : (
            <Controller control={control} name="permissions" render={({ field }) => (
              <PermissionPicker legend="Permissions of the key" catalogue={catalogue.data.items} value={field.value}
                onChange={field.onChange} canGrant={(p) => account.can(p)} error={permError}
                hint="Give the key only what it needs; you can grant only permissions your own role holds." />
            )} />
          )}
        <div className="form-actions dialog-actions">
          <Button type="submit" variant="primary" busy={create.isPending}>Create key</Button>
          <Button onClick={close}>Cancel</Button>
        </div>
      </form>
    </Dialog>
  );
}
