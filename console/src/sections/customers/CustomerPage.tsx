// One customer: the profile (editable with insights.write), their interactions with
// sentiment (cursor pages, sorted by time or score as the API can), the behaviour patterns
// detected, and their own sentiment trend.
import { useMemo, useState } from 'react';
import { Link, useParams } from 'wouter';
import { z } from 'zod';
import type { components, CustomerProfile, Interaction, Pattern } from '@cairn/sdk';
import { API, cairn } from '../../lib/sdk';
import { useApiMutation, useApiQuery, useCursorQuery } from '../../lib/query';
import { useLiveInvalidate } from '../../lib/realtime';
import { applyProblem, useZodForm } from '../../lib/forms';
import { isProblem } from '../../lib/problem';
import { formatDate, formatDateTime, formatNumber, formatPercent } from '../../lib/format';
import { useAccount } from '../../app/auth';
import {
  Button, DataTable, EmptyState, ErrorNotice, Field, FormError, PageHeader, Skeleton, TextInput, useToast,
  type ColumnDef, type SortingState,
} from '../../ui';
import { AverageSentiment, SentimentBadge, channelLabel } from './Sentiment';
import { TrendChart } from './TrendChart';
import './customers.css';

type Trends = components['schemas']['SentimentTrends'];

export default function CustomerPage() {
  const { id = '' } = useParams<{ id: string }>();
  const profileKey = ['customers', 'customer', id];
  const profile = useApiQuery<CustomerProfile>(profileKey, `${API}/customers/${encodeURIComponent(id)}`);
  useLiveInvalidate('insights', [profileKey]);
  const title = profile.data?.email ?? (profile.data ? 'Customer' : 'Customer');
  if (profile.error && !profile.data) {
    return (
      <>
        <PageHeader title="Customer" />
        {isProblem(profile.error, 404)
          ? <EmptyState title="No such customer" action={<Link className="btn" href="/customers">All customers</Link>}>
            This organisation has no customer with the id {id}. A customer appears with their first interaction.
          </EmptyState>
          : <ErrorNotice error={profile.error} onRetry={() => void profile.refetch()} />}
      </>
    );
  }
  return (
    <>
      <PageHeader title={title}>
        <Link className="btn" href="/customers">All customers</Link>
      </PageHeader>
      <div className="stack">
        <div className="customer-grid">
          <Profile id={id} profile={profile.data} queryKey={profileKey} />
          <Trend id={id} />
        </div>
        <History id={id} />
        <Patterns id={id} />
      </div>
    </>
  );
}

function Profile({ id, profile, queryKey }: { id: string; profile: CustomerProfile | undefined; queryKey: string[] }) {
  const account = useAccount();
  const [editing, setEditing] = useState(false);
  return (
    <section className="card stack" aria-labelledby="customer-profile">
      <div className="card-header">
        <h2 id="customer-profile">Profile</h2>
        {profile && account.can('insights.write') && !editing && (
          <Button size="small" onClick={() => setEditing(true)}>Edit</Button>
        )}
      </div>
      {editing && profile
        ? <EditProfile id={id} profile={profile} queryKey={queryKey} done={() => setEditing(false)} />
        : <ProfileFacts id={id} profile={profile} />}
    </section>
  );
}

function ProfileFacts({ id, profile: p }: { id: string; profile: CustomerProfile | undefined }) {
  const v = (node: React.ReactNode) => (p ? node : <Skeleton />);
  return (
    <>
      <dl className="facts">
        <dt>Id</dt><dd className="id-text">{id}</dd>
        <dt>E-mail</dt><dd>{v(p?.email ?? '—')}</dd>
        <dt>Segment</dt><dd>{v(p?.segment ?? '—')}</dd>
        <dt>Interactions</dt><dd className="num">{v(p && `${formatNumber(p.interaction_count)} (${formatNumber(p.analysed_count)} analysed)`)}</dd>
        <dt>Average sentiment</dt><dd>{v(p && <AverageSentiment value={p.average_sentiment} />)}</dd>
        <dt>First seen</dt><dd>{v(p && formatDateTime(p.first_seen))}</dd>
        <dt>Last seen</dt><dd>{v(p && formatDateTime(p.last_seen))}</dd>
      </dl>
      <div>
        <h3>By channel</h3>
        {p ? (
          <ul className="counts">
            {Object.entries(p.channels ?? {}).filter(([, n]) => Number(n) > 0).map(([c, n]) => (
              <li key={c}>{channelLabel(c)}: <span className="num">{formatNumber(Number(n))}</span></li>
            ))}
            {!Object.values(p.channels ?? {}).some((n) => Number(n) > 0) && <li>None yet</li>}
          </ul>
        ) : <Skeleton />}
      </div>
      <div>
        <h3>By sentiment</h3>
        {p ? (
          <ul className="counts">
            {Object.entries(p.sentiment ?? {}).map(([label, n]) => (
              <li key={label}>{label.replace(/_/g, ' ')}: <span className="num">{formatNumber(Number(n))}</span></li>
            ))}
          </ul>
        ) : <Skeleton />}
      </div>
    </>
  );
}

const profileSchema = z.object({
  email: z.union([z.literal(''), z.email('Enter an e-mail address, or leave it empty')]),
  segment: z.string().trim().max(100, 'At most 100 characters'),
});

function EditProfile({ id, profile, queryKey, done }: { id: string; profile: CustomerProfile; queryKey: string[]; done: () => void }) {
  const toast = useToast();
  const form = useZodForm(profileSchema, { defaultValues: { email: profile.email ?? '', segment: profile.segment ?? '' } });
  const { register, handleSubmit, formState: { errors } } = form;
  const save = useApiMutation(
    (v: z.output<typeof profileSchema>) => cairn.put(`${API}/customers/${encodeURIComponent(id)}`,
      { email: v.email || null, segment: v.segment || null }),
    { invalidate: [queryKey, ['customers', 'list']] });
  const submit = handleSubmit(async (v) => {
    try {
      await save.mutateAsync(v);
      toast('Customer saved');
      done();
    } catch (e) {
      applyProblem(form, e);
    }
  });
  return (
    <form onSubmit={submit} noValidate aria-label="Edit the customer">
      <FormError form={form} />
      <Field label="E-mail" error={errors.email?.message}><TextInput type="email" autoComplete="off" {...register('email')} /></Field>
      <Field label="Segment" hint="A label the filters use, e.g. gold." error={errors.segment?.message}>
        <TextInput autoComplete="off" {...register('segment')} />
      </Field>
      <div className="form-actions">
        <Button onClick={done}>Cancel</Button>
        <Button type="submit" variant="primary" busy={save.isPending}>Save</Button>
      </div>
    </form>
  );
}

const historyColumns: ColumnDef<Interaction, any>[] = [
  { id: 'timestamp', accessorKey: 'timestamp', header: 'When', cell: (c) => formatDateTime(c.getValue<number>()) },
  { id: 'channel', accessorKey: 'channel', header: 'Channel', enableSorting: false, cell: (c) => channelLabel(c.getValue<string>()) },
  { id: 'event_type', accessorKey: 'event_type', header: 'Event', enableSorting: false },
  {
    id: 'content', accessorKey: 'content', header: 'Content', enableSorting: false,
    cell: (c) => <div className="content-cell">{c.getValue<string | null>() ?? '—'}</div>,
  },
  {
    id: 'sentiment', accessorFn: (i) => i.sentiment?.compound ?? null, header: 'Sentiment',
    cell: (c) => <SentimentBadge sentiment={c.row.original.sentiment} pending={c.row.original.processed_at == null} />,
  },
  { id: 'device', accessorFn: (i) => i.enrichment?.device ?? null, header: 'Device', enableSorting: false, cell: (c) => c.getValue<string | null>() ?? '—' },
];

function History({ id }: { id: string }) {
  const [sorting, setSorting] = useState<SortingState>([{ id: 'timestamp', desc: true }]);
  const sort = sorting[0] ?? { id: 'timestamp', desc: true };
  const key = ['customers', 'history', id];
  const list = useCursorQuery<Interaction>(key, `${API}/insights`,
    { customer_id: id, sort: sort.id, order: sort.desc ? 'desc' : 'asc' }, 10);
  useLiveInvalidate('insights', [key]);
  return (
    <section className="card stack" aria-labelledby="customer-history">
      <h2 id="customer-history">Interactions</h2>
      {sort.id === 'sentiment' && <p className="muted">Sorted by score: interactions not analysed yet are left out.</p>}
      <DataTable caption="Interactions of this customer" columns={historyColumns} data={list.items}
        loading={list.isLoading} error={list.error} onRetry={() => void list.refetch()} pagination={list.pager}
        getRowId={(i) => i.id} manualSorting sorting={sorting} initialHidden={['device']}
        onSortingChange={(u) => setSorting((old) => {
          const next = typeof u === 'function' ? u(old) : u;
          return next.length ? next : [{ id: old[0]?.id ?? 'timestamp', desc: !(old[0]?.desc ?? true) }];
        })}
        empty={<EmptyState title="No interactions">Interactions of this customer appear here once they are ingested.</EmptyState>} />
    </section>
  );
}

const RANGES = [
  { id: '30d', label: '30 days', days: 30, group: 'day', unit: 'day' },
  { id: '90d', label: '90 days', days: 90, group: 'week', unit: 'week' },
] as const;

function Trend({ id }: { id: string }) {
  const [rangeId, setRangeId] = useState<(typeof RANGES)[number]['id']>('30d');
  const range = RANGES.find((r) => r.id === rangeId) ?? RANGES[0];
  // one `from` per range choice, so the query key stays put between renders
  const from = useMemo(() => Date.now() - range.days * 86_400_000, [range.days]);
  const key = ['customers', 'trend', id];
  const trend = useApiQuery<Trends>(key, `${API}/insights/sentiment-trends`, { customer_id: id, from, group_by: range.group },
    { placeholderData: (prev) => prev });
  useLiveInvalidate('insights', [key]);
  const buckets = trend.data?.buckets ?? [];
  const total = buckets.reduce((n, b) => n + b.interactions, 0);
  const analysed = buckets.reduce((n, b) => n + b.analysed, 0);
  const positive = buckets.reduce((n, b) => n + b.positive, 0);
  const negative = buckets.reduce((n, b) => n + b.negative, 0);
  const tz = trend.data?.timezone ?? 'UTC';
  return (
    <section className="card stack" aria-labelledby="customer-trend">
      <h2 id="customer-trend">Sentiment trend</h2>
      <div className="trend-range" role="group" aria-label="Period">
        {RANGES.map((r) => (
          <Button key={r.id} size="small" aria-pressed={r.id === rangeId} onClick={() => setRangeId(r.id)}>{r.label}</Button>
        ))}
      </div>
      {trend.error && !trend.data ? <ErrorNotice error={trend.error} onRetry={() => void trend.refetch()} /> : (
        <figure className="stack trend-figure">
          <div className="trend-chart">
            {trend.data ? <TrendChart buckets={buckets} timezone={tz} unit={range.unit} /> : <Skeleton block />}
          </div>
          <figcaption className="muted">
            {trend.data
              ? total
                ? `${formatNumber(total)} interactions in the last ${range.label}, ${formatNumber(analysed)} analysed: ${formatPercent(analysed ? positive / analysed : null)} positive, ${formatPercent(analysed ? negative / analysed : null)} negative. Line: average score per ${range.unit} (−1 to 1); bars: interactions. Times in ${tz}.`
                : `No interactions in the last ${range.label}.`
              : 'Loading the trend…'}
          </figcaption>
          {trend.data && total > 0 && (
            <details>
              <summary>Show as a table</summary>
              <div className="table-wrap">
                <table className="table">
                  <caption className="visually-hidden">Sentiment per {range.unit}</caption>
                  <thead><tr><th scope="col">{range.unit === 'day' ? 'Day' : 'Week of'}</th><th scope="col" className="num">Interactions</th><th scope="col" className="num">Average score</th></tr></thead>
                  <tbody>
                    {buckets.filter((b) => b.interactions > 0).map((b) => (
                      <tr key={b.start}>
                        <td>{formatDate(b.start, tz)}</td>
                        <td className="num">{formatNumber(b.interactions)}</td>
                        <td className="num">{formatNumber(b.average_compound, 2)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </details>
          )}
        </figure>
      )}
    </section>
  );
}

function Patterns({ id }: { id: string }) {
  const key = ['customers', 'patterns', id];
  const patterns = useApiQuery<{ items: Pattern[] }>(key, `${API}/customers/${encodeURIComponent(id)}/patterns`);
  useLiveInvalidate('insights', [key]);
  const items = patterns.data?.items;
  return (
    <section className="card stack" aria-labelledby="customer-patterns">
      <h2 id="customer-patterns">Detected patterns</h2>
      {patterns.error && !items ? <ErrorNotice error={patterns.error} onRetry={() => void patterns.refetch()} />
        : !items ? <Skeleton lines={3} />
          : items.length === 0 ? (
            <p className="muted">
              No pattern detected yet. Patterns are looked for about a minute after new interactions are analysed, and
              need at least 5 interactions in the last 30 days.
            </p>
          ) : (
            <ul className="patterns">
              {items.map((p) => (
                <li key={`${p.type}-${p.detected_at}-${p.description}`} className="pattern">
                  <h3>{patternTitle(p.type)}</h3>
                  <p>{p.description}</p>
                  <p className="muted">
                    Confidence {formatPercent(p.confidence, 0)} · detected {formatDateTime(p.detected_at)} · valid until {formatDateTime(p.valid_until)}
                  </p>
                </li>
              ))}
            </ul>
          )}
    </section>
  );
}

function patternTitle(type: string): string {
  return ({
    channel_frequency: 'Regular channel use', sentiment_trend: 'Sentiment trend', temporal: 'Time of activity',
    engagement: 'Engagement',
  } as Record<string, string>)[type] ?? type.replace(/_/g, ' ');
}
