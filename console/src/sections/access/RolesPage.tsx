// Roles: the built-in ones and the organisation's custom roles with their permissions;
// creating a custom role from the permission catalogue, deleting one (refused while a member
// has it: the API's reason is shown).
import { useState } from 'react';
import { Controller } from 'react-hook-form';
import { z } from 'zod';
import { useAccount } from '../../app/auth';
import { cairn } from '../../lib/sdk';
import { useApiMutation, useApiQuery, type Page } from '../../lib/query';
import { applyProblem, useZodForm } from '../../lib/forms';
import { formatDate } from '../../lib/format';
import { Button, DataTable, Dialog, EmptyState, ErrorNotice, Field, FormError, PageHeader, Skeleton, TextInput, useToast, type ColumnDef } from '../../ui';
import { ConfirmDialog } from './ConfirmDialog';
import { forbiddenPage } from './Forbidden';
import { PermissionPicker } from './PermissionPicker';
import { PermissionChips, usePermissionCatalogue } from './parts';
import { ROLES, paths, type Role } from './api';
import './access.css';

export default function RolesPage() {
  const toast = useToast();
  // one page: the route takes no cursor (a tenant has few roles)
  const roles = useApiQuery<Page<Role>>(ROLES, paths.roles);
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Role | null>(null);
  const del = useApiMutation((r: Role) => cairn.delete(paths.role(r.name)), { invalidate: [ROLES] });

  const forbidden = forbiddenPage(roles.error);
  if (forbidden) return forbidden;

  const columns: ColumnDef<Role, any>[] = [
    { accessorKey: 'name', header: 'Role', cell: (c) => (
      <span className="role-name">{c.getValue<string>()}<span className="badge">{c.row.original.builtin ? 'built-in' : 'custom'}</span></span>
    ) },
    { accessorKey: 'permissions', header: 'Permissions', enableSorting: false,
      cell: (c) => <PermissionChips names={c.getValue<string[]>()} of={`the role ${c.row.original.name}`} /> },
    { accessorKey: 'created_at', header: 'Created', cell: (c) => (c.row.original.builtin ? '—' : formatDate(c.getValue<number>())) },
    { id: 'actions', header: 'Actions', enableSorting: false, enableHiding: false,
      cell: (c) => (c.row.original.builtin ? <span className="muted">fixed</span> : (
        <Button size="small" variant="danger" onClick={() => setDeleting(c.row.original)} aria-label={`Delete role ${c.row.original.name}`}>Delete</Button>
      )) },
  ];

  return (
    <>
      <PageHeader title="Roles">
        <Button variant="primary" onClick={() => setCreating(true)}>Create role</Button>
      </PageHeader>
      <p className="muted page-intro">A member's role decides what they may do. The four built-in roles are fixed; a custom
        role holds exactly the permissions you choose (and everyone's own profile and sessions). Changes apply from the next request.</p>
      <DataTable caption="Roles" columns={columns} data={roles.data?.items} loading={roles.isLoading} error={roles.error}
        onRetry={() => void roles.refetch()} getRowId={(r) => r.name} skeletonRows={4}
        empty={<EmptyState title="No roles">Create a role to give members a chosen set of permissions.</EmptyState>} />
      <CreateRoleDialog open={creating} onClose={() => setCreating(false)} />
      <ConfirmDialog open={deleting != null} title={`Delete the role ${deleting?.name ?? ''}?`} confirmLabel="Delete role"
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          if (!deleting) return;
          await del.mutateAsync(deleting);
          toast(`The role ${deleting.name} was deleted.`);
        }}>
        <p>A role can be deleted only while no member has it: give its members another role first.</p>
      </ConfirmDialog>
    </>
  );
}

const roleSchema = z.object({
  name: z.string().trim().min(1, 'Name the role').max(32, 'At most 32 characters')
    .regex(/^[a-z0-9_-]+$/, 'Lower-case letters, digits, “_” and “-” only'),
  permissions: z.array(z.string()).min(1, 'Choose at least one permission'),
});
type RoleValues = z.output<typeof roleSchema>;

function CreateRoleDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const account = useAccount();
  const toast = useToast();
  const catalogue = usePermissionCatalogue();
  const form = useZodForm(roleSchema, { defaultValues: { name: '', permissions: [] } });
  const { register, handleSubmit, reset, control, formState: { errors } } = form;
  const create = useApiMutation((v: RoleValues) => cairn.post<Role>(paths.roles, v), { invalidate: [ROLES] });
  const close = () => {
    reset();
    onClose();
  };
  const submit = handleSubmit(async (v) => {
    try {
      await create.mutateAsync(v);
      toast(`The role ${v.name} was created.`);
      close();
    } catch (e) {
      applyProblem(form, e);
    }
  });
  const permError = errors.permissions?.message
    ?? (Array.isArray(errors.permissions) ? errors.permissions.map((x) => x?.message).filter(Boolean).join('; ') : undefined);
  return (
    <Dialog open={open} title="Create a role" onClose={close}>
      <form onSubmit={submit} noValidate aria-label="Create a role" className="access-wide">
        <FormError form={form} />
        <Field label="Name" error={errors.name?.message} hint="Lower-case letters, digits, “_” and “-”, e.g. support-lead">
          <TextInput autoComplete="off" {...register('name')} />
        </Field>
        {catalogue.error ? <ErrorNotice error={catalogue.error} onRetry={() => void catalogue.refetch()} />
          : !catalogue.data ? <Skeleton lines={8} /> : (
            <Controller control={control} name="permissions" render={({ field }) => (
              <PermissionPicker legend="Permissions of the role" catalogue={catalogue.data.items} value={field.value}
                onChange={field.onChange} canGrant={(p) => account.can(p)} error={permError}
                hint="You can grant only permissions your own role holds." />
            )} />
          )}
        <div className="form-actions dialog-actions">
          <Button type="submit" variant="primary" busy={create.isPending}>Create role</Button>
          <Button onClick={close}>Cancel</Button>
        </div>
      </form>
    </Dialog>
  );
}
