// The audit log: the tenant's entries newest first, filtered by actor, action and time (the
// filters live in the address), each entry's details in a dialog, and the hash chain's
// verification (run when the page opens, and again on request).
import { useMemo, useState, type FormEvent } from 'react';
import { API } from '../../lib/sdk';
import { useApiQuery, useCursorQuery } from '../../lib/query';
import { formatDateTime, formatNumber, formatRelative } from '../../lib/format';
import { sentence } from '../../lib/problem';
import { useAccount } from '../../app/auth';
import {
  Button, DataTable, Dialog, EmptyState, ErrorNotice, Field, PageHeader, Select, Skeleton, TextInput, type ColumnDef,
} from '../../ui';
import { fromLocalInput, toLocalInput, useUrlFilters } from './hooks';
import { KEYS, type AuditEntry, type AuditVerification, type Member } from './types';
import './operations.css';

const FILTERS = ['actor', 'action', 'since', 'until'] as const;

// The actions most audited, offered while typing (any other exact action works too).
const COMMON_ACTIONS = [
  'auth.login', 'auth.login.failed', 'auth.switch', 'PATCH /api/v1/tenant', 'POST /api/v1/users',
  'PATCH /api/v1/users/{id}', 'DELETE /api/v1/users/{id}', 'POST /api/v1/api-keys', 'DELETE /api/v1/api-keys/{id}',
  'POST /api/v1/roles', 'POST /api/v1/jobs/{id}/retry', 'PUT /api/v1/insights/settings', 'POST /api/v1/notes',
];

export default function AuditPage() {
  const [filters, setFilters] = useUrlFilters(FILTERS);
  const query = useMemo(() => Object.fromEntries(FILTERS.filter((f) => filters[f]).map((f) => [f, filters[f]])), [filters]);
  const audit = useCursorQuery<AuditEntry>(KEYS.audit, `${API}/audit`, query, 25);
  const people = useMemberNames();
  const [open, setOpen] = useState<AuditEntry | null>(null);
  const brokenSeq = useVerification().data?.broken_seq ?? null;
  const filtered = FILTERS.some((f) => filters[f]);
  // a phone shows fewer columns at first (the column chooser brings them back)
  const [narrow] = useState(() => typeof window !== 'undefined' && !!window.matchMedia?.('(max-width: 40rem)').matches);

  const columns = useMemo<ColumnDef<AuditEntry, any>[]>(() => [
    { accessorKey: 'at', header: 'When', cell: (c) => <time dateTime={new Date(c.getValue<number>()).toISOString()}>{formatDateTime(c.getValue<number>())}</time> },
    { accessorKey: 'action', header: 'Action', cell: (c) => <code className="ops-code ops-nowrap">{c.getValue<string>()}</code> },
    { id: 'actor', accessorFn: (e) => people.name(e.actor), header: 'Actor' },
    { accessorKey: 'status', header: 'Status', meta: { numeric: true } },
    {
      accessorKey: 'seq', header: 'Entry', meta: { numeric: true },
      cell: (c) => (c.getValue<number>() === brokenSeq
        ? <><span className="ops-badge ops-badge-dead">Chain breaks here</span> {formatNumber(c.getValue<number>())}</>
        : formatNumber(c.getValue<number>())),
    },
    {
      id: 'details', header: 'Details', enableSorting: false, enableHiding: false,
      cell: (c) => <Button size="small" variant="link" onClick={() => setOpen(c.row.original)}
        aria-label={`Details of entry ${c.row.original.seq}`}>Details</Button>,
    },
  ], [people, brokenSeq]);

  return (
    <>
      <PageHeader title="Audit log" />
      <div className="stack">
        <VerificationCard />
        <AuditFilters key={FILTERS.map((f) => filters[f]).join('|')} values={filters} members={people.members}
          actions={[...new Set([...(audit.items ?? []).map((e) => e.action), ...COMMON_ACTIONS])]}
          onApply={(v) => setFilters(v)} />
        <DataTable caption="Audit entries" columns={columns} data={audit.items} loading={audit.isLoading}
          error={audit.error} onRetry={() => void audit.refetch()} pagination={audit.pager} getRowId={(e) => String(e.seq)}
          initialHidden={narrow ? ['status', 'seq'] : []}
          empty={filtered
            ? <EmptyState title="No entry matches these filters" action={<Button onClick={() => setFilters({ actor: '', action: '', since: '', until: '' })}>Clear the filters</Button>}>
                Widen the time range, or clear a filter.
              </EmptyState>
            : <EmptyState title="No audit entries yet">Changes made through the API and sign-ins are recorded here.</EmptyState>} />
      </div>
      <Dialog open={open != null} title={open ? `Audit entry ${formatNumber(open.seq)}` : ''} onClose={() => setOpen(null)}>
        {open && <EntryDetails entry={open} actorName={people.name(open.actor)} />}
        <div className="form-actions ops-dialog-actions">
          {open && <Button onClick={() => { setFilters({ action: open.action }); setOpen(null); }}>Only this action</Button>}
          {open?.actor && open.actor !== 'erased' && (
            <Button onClick={() => { setFilters({ actor: open.actor ?? '' }); setOpen(null); }}>Only this actor</Button>
          )}
          <Button variant="primary" onClick={() => setOpen(null)}>Close</Button>
        </div>
      </Dialog>
    </>
  );
}

/** The members' e-mails by user id, to show actors as people (ids stay in the details). */
function useMemberNames() {
  const account = useAccount();
  const q = useApiQuery<{ items: Member[] }>(KEYS.members, `${API}/users`, { limit: 200 },
    { enabled: account.can('users.read'), staleTime: 60_000 });
  return useMemo(() => {
    const byId = new Map((q.data?.items ?? []).map((m) => [m.id, m.email]));
    return {
      members: q.data?.items ?? [],
      name: (actor: string | null) => {
        if (actor == null || actor === 'erased') return 'erased account';
        if (actor.startsWith('key:')) return `API key ${actor.slice(4, 12)}…`;
        return byId.get(actor) ?? actor;
      },
    };
  }, [q.data]);
}

function AuditFilters({ values, members, actions, onApply }: {
  values: Record<(typeof FILTERS)[number], string>; members: Member[]; actions: string[];
  onApply: (v: Record<(typeof FILTERS)[number], string>) => void;
}) {
  const [actor, setActor] = useState(values.actor);
  const [action, setAction] = useState(values.action);
  const [since, setSince] = useState(toLocalInput(values.since));
  const [until, setUntil] = useState(toLocalInput(values.until));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onApply({ actor: actor.trim(), action: action.trim(), since: fromLocalInput(since), until: fromLocalInput(until) });
  };
  const knownActor = actor === '' || members.some((m) => m.id === actor);
  return (
    <form className="card ops-filters" onSubmit={submit} aria-label="Filter the audit log">
      <Field label="Actor" className="ops-filter">
        {knownActor ? (
          <Select value={actor} onChange={(e) => setActor(e.target.value)}>
            <option value="">Anyone</option>
            {members.map((m) => <option key={m.id} value={m.id}>{m.email}</option>)}
          </Select>
        ) : <TextInput value={actor} onChange={(e) => setActor(e.target.value)} />}
      </Field>
      <Field label="Action" hint="Exact, e.g. POST /api/v1/notes" className="ops-filter">
        <TextInput value={action} onChange={(e) => setAction(e.target.value)} list="ops-audit-actions" autoComplete="off" />
      </Field>
      <datalist id="ops-audit-actions">
        {actions.map((a) => <option key={a} value={a} />)}
      </datalist>
      <Field label="From" className="ops-filter"><TextInput type="datetime-local" value={since} onChange={(e) => setSince(e.target.value)} /></Field>
      <Field label="Until" className="ops-filter"><TextInput type="datetime-local" value={until} onChange={(e) => setUntil(e.target.value)} /></Field>
      <div className="form-actions ops-filter-actions">
        <Button type="submit" variant="primary">Filter</Button>
        <Button onClick={() => { setActor(''); setAction(''); setSince(''); setUntil(''); onApply({ actor: '', action: '', since: '', until: '' }); }}>Clear</Button>
      </div>
    </form>
  );
}

function EntryDetails({ entry, actorName }: { entry: AuditEntry; actorName: string }) {
  return (
    <dl className="facts">
      <dt>When</dt><dd>{formatDateTime(entry.at)} ({formatRelative(entry.at)})</dd>
      <dt>Action</dt><dd><code className="ops-code">{entry.action}</code></dd>
      <dt>Status</dt><dd>{entry.status}</dd>
      <dt>Actor</dt><dd>{actorName}{entry.actor && actorName !== entry.actor && <><br /><code className="ops-code">{entry.actor}</code></>}</dd>
      <dt>Object</dt><dd>{entry.object ? <code className="ops-code">{entry.object}</code> : '—'}</dd>
      <dt>IP address</dt><dd>{entry.ip ?? '—'}</dd>
      <dt>Request id</dt><dd>{entry.request_id ? <code className="ops-code">{entry.request_id}</code> : '—'}</dd>
      <dt>Entry</dt><dd>{formatNumber(entry.seq)}</dd>
    </dl>
  );
}

/** The hash chain's state: intact, or where it breaks; when it was checked; verify again. */
function useVerification() {
  return useApiQuery<AuditVerification>(KEYS.verify, `${API}/audit/verify`, undefined, { staleTime: 5 * 60_000 });
}

export function VerificationCard() {
  const v = useVerification();
  const busy = v.isFetching;
  return (
    <section className="card ops-verify" aria-labelledby="ops-verify-title" aria-busy={busy || undefined}>
      <div className="ops-verify-head">
        <h2 id="ops-verify-title">Chain verification</h2>
        <Button size="small" busy={busy} onClick={() => void v.refetch()}>Verify now</Button>
      </div>
      <div role="status" aria-live="polite" className="ops-verify-body">
        {v.data ? <Verification result={v.data} /> : v.error ? null : <Skeleton lines={2} />}
      </div>
      {v.error && <ErrorNotice error={v.error} title="The chain could not be verified" onRetry={() => void v.refetch()} />}
    </section>
  );
}

function Verification({ result }: { result: AuditVerification }) {
  return (
    <>
      {result.intact ? (
        <p className="ops-state ops-state-ok"><span aria-hidden="true">✓ </span><strong>Intact</strong>: every entry's hash and link match ({formatNumber(result.entries)} of this organisation's entries checked).</p>
      ) : (
        <p className="ops-state ops-state-bad"><span aria-hidden="true">✗ </span><strong>Broken</strong>
          {result.broken_seq != null ? <> at entry {formatNumber(result.broken_seq)}</> : null}. {sentence(result.reason ?? 'an entry does not match')}
          {' '}{formatNumber(result.entries)} of this organisation's entries before the break verified.</p>
      )}
      <p className="muted">Checked {formatDateTime(result.checked_at)} ({formatRelative(result.checked_at)}).</p>
    </>
  );
}
