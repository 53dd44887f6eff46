// Members of the organisation: the list (cursor pages), adding a member, changing a role
// (shown at once, put back when the API refuses, with its reason), removing a member and
// clearing a sign-in lockout.
import { useState } from 'react';
import { useQueryClient, type QueryKey } from '@tanstack/react-query';
import { useAccount } from '../../app/auth';
import { cairn } from '../../lib/sdk';
import { useApiMutation, useApiQuery, useCursorQuery, useInvalidate, type Page } from '../../lib/query';
import { formatDate, formatNumber, formatTime } from '../../lib/format';
import { problemMessage } from '../../lib/problem';
import { Button, DataTable, EmptyState, PageHeader, Select, useToast, type ColumnDef } from '../../ui';
import { ConfirmDialog } from './ConfirmDialog';
import { forbiddenPage } from './Forbidden';
import { InviteDialog } from './InviteDialog';
import { MEMBERS, ROLES, paths, type Member, type Role, type Unlocked } from './api';
import './access.css';

interface RoleChange { member: Member; role: string }
type Snapshot = [QueryKey, Page<Member> | undefined][];

/** Role change with an optimistic update of every cached page of members. */
function useRoleChange(onRefused: (member: Member, role: string, error: unknown) => void) {
  const qc = useQueryClient();
  return useApiMutation<unknown, RoleChange>(
    ({ member, role }) => cairn.patch(paths.member(member.id), { role }),
    {
      onMutate: async ({ member, role }) => {
        await qc.cancelQueries({ queryKey: MEMBERS });
        const before = qc.getQueriesData<Page<Member>>({ queryKey: MEMBERS });
        qc.setQueriesData<Page<Member>>({ queryKey: MEMBERS }, (page) => page && {
          ...page, items: page.items.map((m) => (m.id === member.id ? { ...m, role } : m)),
        });
        return { before };
      },
      onError: (error, { member, role }, ctx) => {
        for (const [key, data] of (ctx as { before: Snapshot } | undefined)?.before ?? []) qc.setQueryData(key, data);
        onRefused(member, role, error);
      },
      onSettled: () => qc.invalidateQueries({ queryKey: MEMBERS }),
    },
  );
}

export default function MembersPage() {
  const account = useAccount();
  const toast = useToast();
  const invalidate = useInvalidate();
  const members = useCursorQuery<Member>(MEMBERS, paths.members, {}, 25);
  const roles = useApiQuery<Page<Role>>(ROLES, paths.roles);
  const [inviting, setInviting] = useState(false);
  const [removing, setRemoving] = useState<Member | null>(null);
  const [refusal, setRefusal] = useState<string | null>(null);
  const change = useRoleChange((m, role, e) => setRefusal(`The role of ${m.email} was not changed to ${role}: ${problemMessage(e)}`));
  const remove = useApiMutation((m: Member) => cairn.delete(paths.member(m.id)), { invalidate: [MEMBERS] });
  const unlock = useApiMutation((m: Member) => cairn.post<Unlocked>(paths.unlock(m.id)));

  const forbidden = forbiddenPage(members.error);
  if (forbidden) return forbidden;

  const roleNames = roles.data?.items.map((r) => r.name) ?? [];
  const onUnlock = async (m: Member) => {
    try {
      const r = await unlock.mutateAsync(m);
      toast(r.cleared_records > 0
        ? `${m.email} can sign in again (${formatNumber(r.cleared_records)} lockout ${r.cleared_records === 1 ? 'record' : 'records'} cleared).`
        : `${m.email} was not locked out.`, 'info');
      await invalidate(MEMBERS);
    } catch (e) {
      toast(`${m.email} was not unlocked: ${problemMessage(e)}`, 'error');
    }
  };

  const columns: ColumnDef<Member, any>[] = [
    { accessorKey: 'email', header: 'E-mail', cell: (c) => {
      const m = c.row.original;
      const locked = m.locked_until != null && m.locked_until > Date.now();
      return (
        <span className="member-email">
          {c.getValue<string>()}
          {m.id === account.userId && <span className="badge">you</span>}
          {locked && <span className="badge badge-expired">locked out until {formatTime(m.locked_until)}</span>}
        </span>
      );
    } },
    {
      accessorKey: 'role', header: 'Role',
      cell: (c) => {
        const m = c.row.original;
        // changing one's own role ends one's own sessions: another admin does it
        if (m.id === account.userId) return <span>{m.role}</span>;
        const options = roleNames.includes(m.role) ? roleNames : [m.role, ...roleNames];
        return (
          <Select aria-label={`Role of ${m.email}`} className="role-select" value={m.role}
            onChange={(e) => { setRefusal(null); change.mutate({ member: m, role: e.target.value }); }}
            options={options.map((r) => ({ value: r, label: r }))} />
        );
      },
    },
    { accessorKey: 'member_since', header: 'Member since', cell: (c) => formatDate(c.getValue<number>()) },
    {
      id: 'actions', header: 'Actions', enableSorting: false, enableHiding: false,
      cell: (c) => {
        const m = c.row.original;
        return (
          <div className="row-actions">
            {m.locked_until != null && m.locked_until > Date.now() && (
              <Button size="small" onClick={() => void onUnlock(m)} aria-label={`Unlock sign-in of ${m.email}`}>Unlock</Button>
            )}
            {m.id !== account.userId && (
              <Button size="small" variant="danger" onClick={() => setRemoving(m)} aria-label={`Remove ${m.email}`}>Remove</Button>
            )}
          </div>
        );
      },
    },
  ];

  return (
    <>
      <PageHeader title="Members">
        <Button variant="primary" onClick={() => setInviting(true)}>Add member</Button>
      </PageHeader>
      <p className="muted page-intro">
        People who can sign in to {account.tenantName ?? 'this organisation'} and what their role lets them do.
        A role change or a removal ends that person's sessions here at once. Someone locked out after too many
        wrong passwords can be let in again with <strong>Unlock</strong>.
      </p>
      {refusal && (
        <div className="notice notice-error" role="alert">
          <p>{refusal}</p>
          <Button size="small" onClick={() => setRefusal(null)}>Dismiss</Button>
        </div>
      )}
      <DataTable caption="Members" columns={columns} data={members.items} loading={members.isLoading}
        error={members.error} onRetry={() => void members.refetch()} pagination={members.pager} getRowId={(m) => m.id}
        empty={<EmptyState title="No members yet" action={<Button onClick={() => setInviting(true)}>Add member</Button>}>
          Add the people who work in this organisation.</EmptyState>} />
      <InviteDialog open={inviting} onClose={() => setInviting(false)} roles={roles.data?.items ?? []} />
      <ConfirmDialog open={removing != null} title={`Remove ${removing?.email ?? ''}?`} confirmLabel="Remove member"
        onClose={() => setRemoving(null)}
        onConfirm={async () => {
          if (!removing) return;
          await remove.mutateAsync(removing);
          toast(`${removing.email} was removed.`);
        }}>
        <p>They lose access to {account.tenantName ?? 'this organisation'} at once: their sessions here end.
          Their account itself stays (it may belong to other organisations), and you can add them again later.</p>
      </ConfirmDialog>
    </>
  );
}
