// The dashboard's filters as they live in the URL's query string (so a view can be shared,
// reloaded, and walked with back/forward), and the time windows they stand for. Pure
// functions: the page reads them with useFilters, the tests call them directly.

export const RANGES = ['24h', '7d', '30d', '90d'] as const;
export type Range = (typeof RANGES)[number];

export const CHANNELS = ['web', 'mobile', 'email', 'chat', 'phone'] as const;
export type Channel = (typeof CHANNELS)[number];

export const SENTIMENTS = ['positive', 'neutral', 'negative'] as const;
export type SentimentLabel = (typeof SENTIMENTS)[number];

export interface Filters {
  range: Range;
  channels: Channel[];
  /** The customers' segments (the API takes at most 10). */
  segments: string[];
  sentiment: SentimentLabel | null;
  customer: string | null;
}

export const DEFAULT_FILTERS: Filters = { range: '7d', channels: [], segments: [], sentiment: null, customer: null };

const HOUR = 3600_000;
const DAY = 24 * HOUR;
export const RANGE_MS: Record<Range, number> = { '24h': DAY, '7d': 7 * DAY, '30d': 30 * DAY, '90d': 90 * DAY };
/** The trend's buckets per range: the API allows at most 95 hour buckets. */
export const RANGE_GROUP: Record<Range, 'hour' | 'day' | 'week'> = { '24h': 'hour', '7d': 'day', '30d': 'day', '90d': 'week' };
export const RANGE_LABEL: Record<Range, string> = { '24h': '24 hours', '7d': '7 days', '30d': '30 days', '90d': '90 days' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SEGMENT = /^[^,]{1,100}$/;

function list(v: string | null): string[] {
  return v ? v.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

/** The filters of a query string ('range=30d&channels=email,chat'); anything unknown is dropped. */
export function parseFilters(search: string): Filters {
  const q = new URLSearchParams(search);
  const range = q.get('range');
  const sentiment = q.get('sentiment');
  const customer = q.get('customer')?.trim() ?? '';
  const channels = list(q.get('channels')).filter((c): c is Channel => (CHANNELS as readonly string[]).includes(c));
  return {
    range: (RANGES as readonly string[]).includes(range ?? '') ? (range as Range) : DEFAULT_FILTERS.range,
    channels: CHANNELS.filter((c) => channels.includes(c)), // one order, one URL per view
    segments: [...new Set(list(q.get('segments')).filter((s) => SEGMENT.test(s)))].slice(0, 10),
    sentiment: (SENTIMENTS as readonly string[]).includes(sentiment ?? '') ? (sentiment as SentimentLabel) : null,
    customer: UUID.test(customer) ? customer.toLowerCase() : null,
  };
}

/** The query string of `f` without its defaults ('' for the default view). */
export function serializeFilters(f: Filters): string {
  const q = new URLSearchParams();
  if (f.range !== DEFAULT_FILTERS.range) q.set('range', f.range);
  if (f.channels.length) q.set('channels', f.channels.join(','));
  if (f.segments.length) q.set('segments', f.segments.join(','));
  if (f.sentiment) q.set('sentiment', f.sentiment);
  if (f.customer) q.set('customer', f.customer);
  return q.toString().replaceAll('%2C', ',');
}

export function isCustomerId(s: string): boolean {
  return UUID.test(s.trim());
}

/** [from, to) of the range ending at `now`, and the period of the same length before it. */
export interface Window { from: number; to: number }

/**
 * The range's window ending at the next whole minute after `now` (so the queries of one
 * minute share their keys and the server's cache) and the previous period of equal length.
 */
export function windows(range: Range, now: number): { current: Window; previous: Window } {
  const to = Math.ceil((now + 1) / 60_000) * 60_000;
  const len = RANGE_MS[range];
  return { current: { from: to - len, to }, previous: { from: to - 2 * len, to: to - len } };
}

/** The compound bounds of a label, as the API labels it (≥ 0.05 positive, ≤ −0.05 negative). */
export function sentimentBounds(s: SentimentLabel | null): { sentiment_min?: number; sentiment_max?: number } {
  if (s === 'positive') return { sentiment_min: 0.05 };
  if (s === 'negative') return { sentiment_max: -0.05 };
  if (s === 'neutral') return { sentiment_min: -0.0499, sentiment_max: 0.0499 };
  return {};
}

/** Relative change of a count (0.1 = +10 %); null without a previous value to compare. */
export function relativeChange(current: number | null | undefined, previous: number | null | undefined): number | null {
  if (current == null || previous == null || previous === 0) return null;
  return (current - previous) / previous;
}

/** Difference of two values (for averages and shares, where a relative change misleads). */
export function difference(current: number | null | undefined, previous: number | null | undefined): number | null {
  if (current == null || previous == null) return null;
  return current - previous;
}

/** Share of negative interactions among the analysed ones; null when none is analysed. */
export function shareNegative(s: { positive: number; neutral: number; negative: number } | undefined): number | null {
  if (!s) return null;
  const analysed = s.positive + s.neutral + s.negative;
  return analysed ? s.negative / analysed : null;
}
