// The latest interactions matching the filters, newest first, kept live: every event on the
// insights channel refetches the list (at most a few times a second), so a row shows its
// content at once and its sentiment as soon as the analysis job scored it, in time order.
import { useRef } from 'react';
import { formatDateTime, formatNumber } from '../../lib/format';
import { EmptyState, ErrorNotice, Skeleton } from '../../ui';
import type { Interaction } from './types';

function SentimentBadge({ i }: { i: Interaction }) {
  if (i.sentiment) {
    return (
      <span className={`sentiment sentiment-${i.sentiment.label}`}>
        {i.sentiment.label} <span className="num">{formatNumber(i.sentiment.compound, 2)}</span>
      </span>
    );
  }
  return <span className="sentiment sentiment-pending">{i.processed_at == null ? 'analysing…' : 'no text'}</span>;
}

export interface LiveFeedProps {
  items: Interaction[] | undefined;
  loading: boolean;
  error: unknown;
  onRetry: () => void;
  filtered: boolean;
  onCustomer: (id: string) => void;
}

export function LiveFeed({ items, loading, error, onRetry, filtered, onCustomer }: LiveFeedProps) {
  // rows that arrived after the first answer get a short highlight
  const seen = useRef<Set<string> | null>(null);
  const fresh = new Set<string>();
  if (items) {
    if (seen.current) for (const i of items) if (!seen.current.has(i.id)) fresh.add(i.id);
    seen.current = new Set([...(seen.current ?? []), ...items.map((i) => i.id)]);
  }
  if (error && !items) return <ErrorNotice error={error} onRetry={onRetry} />;
  if (loading && !items) {
    return (
      <ol className="feed" aria-busy="true">
        {Array.from({ length: 5 }, (_, k) => <li key={k} className="feed-row"><Skeleton lines={2} /></li>)}
      </ol>
    );
  }
  if (!items?.length) {
    return (
      <EmptyState title={filtered ? 'No interactions match these filters' : 'No interactions yet'}>
        {filtered
          ? 'Widen the time range or clear a filter.'
          : 'Ingest interactions through the API (POST /api/v1/interactions) or import a CSV file; they appear here as they arrive.'}
      </EmptyState>
    );
  }
  return (
    // a scroll box of its own (focusable, so the keyboard scrolls it too)
    <ol className="feed feed-scroll" aria-label="Latest interactions, newest first" tabIndex={0}>
      {items.map((i) => (
        <li key={i.id} className={fresh.has(i.id) ? 'feed-row feed-row-new' : 'feed-row'} data-id={i.id} data-timestamp={i.timestamp}>
          <div className="feed-meta">
            <time dateTime={new Date(i.timestamp).toISOString()}>{formatDateTime(i.timestamp)}</time>
            <span className="feed-channel">{i.channel}</span>
            <span className="feed-event">{i.event_type}</span>
            <SentimentBadge i={i} />
          </div>
          <p className="feed-content">{i.content ?? <span className="muted">(no text)</span>}</p>
          <button type="button" className="link-button feed-customer" onClick={() => onCustomer(i.customer_id)}
            aria-label={`Show only customer ${i.customer_id}`}>
            customer {i.customer_id.slice(0, 8)}…
          </button>
        </li>
      ))}
    </ol>
  );
}
