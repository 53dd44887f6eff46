// The tenant's customers as a table: cursor pages in the API's order (by id; the API sorts
// by nothing else, so the columns do not offer sorting), the segment filter in the URL,
// a column chooser, and each customer's page one link away.
import { useEffect, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'wouter';
import type { Customer } from '@cairn/sdk';
import { API } from '../../lib/sdk';
import { useCursorQuery } from '../../lib/query';
import { useLiveInvalidate } from '../../lib/realtime';
import { formatDateTime, formatNumber } from '../../lib/format';
import { useAccount } from '../../app/auth';
import { Button, DataTable, EmptyState, Field, PageHeader, TextInput, type ColumnDef } from '../../ui';
import { AverageSentiment } from './Sentiment';
import { ShortId } from './ShortId';
import './customers.css';

const KEY = ['customers', 'list'];

const allColumns: ColumnDef<Customer, any>[] = [
  {
    id: 'id', accessorKey: 'id', header: 'Customer', enableHiding: false,
    cell: (c) => (
      <Link href={`/customers/${encodeURIComponent(c.row.original.id)}`}>
        {c.row.original.email ?? <ShortId id={c.row.original.id} />}
      </Link>
    ),
  },
  { id: 'segment', accessorKey: 'segment', header: 'Segment', cell: (c) => c.getValue<string | null>() ?? '—' },
  {
    id: 'interactions', accessorKey: 'interaction_count', header: 'Interactions', meta: { numeric: true },
    cell: (c) => formatNumber(c.getValue<number>()),
  },
  {
    id: 'sentiment', accessorKey: 'average_sentiment', header: 'Average sentiment',
    cell: (c) => <AverageSentiment value={c.getValue<number | null>()} />,
  },
  { id: 'last_seen', accessorKey: 'last_seen', header: 'Last seen', cell: (c) => formatDateTime(c.getValue<number | null>()) },
  { id: 'first_seen', accessorKey: 'first_seen', header: 'First seen', cell: (c) => formatDateTime(c.getValue<number | null>()) },
  {
    id: 'analysed', accessorKey: 'analysed_count', header: 'Analysed', meta: { numeric: true },
    cell: (c) => formatNumber(c.getValue<number>()),
  },
  { id: 'customer_id', accessorKey: 'id', header: 'Id', cell: (c) => <span className="id-text">{c.getValue<string>()}</span> },
];
const columns = allColumns.map((c) => ({ ...c, enableSorting: false }));

export default function CustomersPage() {
  const account = useAccount();
  const [params, setParams] = useSearchParams();
  const segment = (params.get('segment') ?? '').trim();
  const [text, setText] = useState(segment);
  useEffect(() => setText(segment), [segment]);
  const list = useCursorQuery<Customer>(KEY, `${API}/customers`, segment ? { segment } : {}, 25);
  useLiveInvalidate('insights', [KEY]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const next = text.trim();
    setParams(next ? { segment: next } : {});
  };
  const canWrite = account.can('insights.write');
  return (
    <>
      <PageHeader title="Customers">
        {canWrite && <Link className="btn" href="/customers/import">Import CSV</Link>}
        {canWrite && <Link className="btn btn-primary" href="/customers/ingest">Add an interaction</Link>}
      </PageHeader>
      <div className="stack">
        <form className="search-form" aria-label="Filter customers" onSubmit={submit}>
          <Field label="Segment" hint="Exactly as stored, e.g. gold. Empty shows every customer.">
            <TextInput name="segment" value={text} onChange={(e) => setText(e.target.value)} autoComplete="off" />
          </Field>
          <Button type="submit">Filter</Button>
        </form>
        <DataTable caption={segment ? `Customers in segment ${segment}` : 'Customers'} columns={columns}
          data={list.items} loading={list.isLoading} error={list.error} onRetry={() => void list.refetch()}
          pagination={list.pager} getRowId={(c) => c.id} initialHidden={['first_seen', 'analysed', 'customer_id']}
          empty={segment
            ? <EmptyState title="No customer in this segment">Check the spelling, or clear the segment to see everyone.</EmptyState>
            : <EmptyState title="No customers yet"
              action={canWrite ? <Link className="btn btn-primary" href="/customers/import">Import a CSV file</Link> : undefined}>
              A customer appears with their first interaction. {canWrite ? 'Add one, or import a CSV file of them.' : 'Ask a member of your team to add data.'}
            </EmptyState>} />
      </div>
    </>
  );
}
