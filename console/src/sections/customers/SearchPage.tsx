// Full-text search over the interactions: the query lives in the URL (?q=), hits show their
// snippet with the matches marked, a link to the customer, channel, time and sentiment, as a
// list of cards that reads at phone width; pages follow the API's cursors.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'wouter';
import type { components } from '@cairn/sdk';
import { API } from '../../lib/sdk';
import { useCursorQuery } from '../../lib/query';
import { formatDateTime } from '../../lib/format';
import { Button, EmptyState, ErrorNotice, Field, PageHeader, Skeleton, TextInput } from '../../ui';
import { Snippet } from './Snippet';
import { ShortId } from './ShortId';
import { SentimentBadge, channelLabel } from './Sentiment';
import './customers.css';

type Hit = components['schemas']['SearchHit'];

export default function SearchPage() {
  const [params, setParams] = useSearchParams();
  const q = (params.get('q') ?? '').trim();
  const [text, setText] = useState(q);
  useEffect(() => setText(q), [q]); // back/forward changes the URL's query
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const next = text.trim();
    setParams(next ? { q: next } : {});
  };
  return (
    <>
      <PageHeader title="Search interactions" />
      <div className="stack">
        <form className="search-form" role="search" aria-label="Interactions" onSubmit={submit}>
          <Field label="Words to find" hint="Every word must match; end a word with * to match its beginning.">
            <TextInput type="search" name="q" value={text} onChange={(e) => setText(e.target.value)} autoComplete="off" />
          </Field>
          <Button type="submit" variant="primary">Search</Button>
        </form>
        {q ? <Results q={q} /> : (
          <EmptyState title="Search what customers wrote">
            Type a few words above, such as a product name or a complaint, and press Search.
          </EmptyState>
        )}
      </div>
    </>
  );
}

function Results({ q }: { q: string }) {
  const hits = useCursorQuery<Hit>(['customers', 'search'], `${API}/interactions/search`, { q }, 20);
  const heading = useRef<HTMLHeadingElement>(null);
  const { pager } = hits;
  const move = (fn: () => void) => {
    fn();
    heading.current?.focus();
  };
  if (hits.error && !hits.items) return <ErrorNotice error={hits.error} onRetry={() => void hits.refetch()} />;
  if (hits.items && hits.items.length === 0) {
    return (
      <EmptyState title="No interaction matches">
        Nothing contains every word of “{q}”. Try fewer words, or end a word with * to match its beginning.
      </EmptyState>
    );
  }
  return (
    <section aria-labelledby="search-results" aria-busy={hits.isFetching || undefined} className="stack">
      <h2 id="search-results" tabIndex={-1} ref={heading}>Results for “{q}”</h2>
      <ol className="search-hits">
        {hits.items
          ? hits.items.map((h) => <HitCard key={h.interaction.id} hit={h} />)
          : Array.from({ length: 4 }, (_, i) => (
            <li key={i} className="card search-hit search-hit-skeleton" aria-hidden="true"><Skeleton lines={3} /></li>
          ))}
      </ol>
      {!hits.items && <p className="visually-hidden" role="status">Searching…</p>}
      {(pager.hasPrev || pager.hasNext) && (
        <nav className="table-pager" aria-label="Search results: pages">
          <Button size="small" onClick={() => move(pager.prev)} disabled={!pager.hasPrev}>Previous</Button>
          <span className="table-pager-page" aria-live="polite">Page {pager.page}</span>
          <Button size="small" onClick={() => move(pager.next)} disabled={!pager.hasNext}>Next</Button>
        </nav>
      )}
      {hits.error != null && hits.items && <ErrorNotice error={hits.error} onRetry={() => void hits.refetch()} />}
    </section>
  );
}

function HitCard({ hit }: { hit: Hit }) {
  const it = hit.interaction;
  return (
    <li className="card search-hit">
      <Snippet parts={hit.snippet} />
      {it.content && (
        <details className="search-hit-full">
          <summary>Full text</summary>
          <p className="search-hit-content">{it.content}</p>
        </details>
      )}
      <p className="search-hit-meta">
        <Link href={`/customers/${encodeURIComponent(it.customer_id)}`}>
          <span className="visually-hidden">Customer </span><ShortId id={it.customer_id} />
        </Link>
        <span>{channelLabel(it.channel)} · {it.event_type}</span>
        <time dateTime={new Date(it.timestamp).toISOString()}>{formatDateTime(it.timestamp)}</time>
        <SentimentBadge sentiment={it.sentiment} pending={it.processed_at == null} />
      </p>
    </li>
  );
}
