// The live customer-insights dashboard: KPI tiles against the previous period, the
// sentiment trend, channels, sentiment by segment and a live feed, all under the filters of
// the URL. Realtime events on the insights channel refresh the feed at once and the
// aggregates at most every two seconds. Performance marks: 'insights:ready' once the tiles
// and the trend first have data, 'insights:complete' once every part has, 'insights:redrawn'
// (and the measure 'insights:filter', from the change)
// when every part has redrawn after a filter change (bench/console.mjs reads them).
import { useEffect, useRef } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { API, cairn } from '../../lib/sdk';
import { apiKey, useApiQuery, type Query } from '../../lib/query';
import { useChannelLive, useLiveInvalidate } from '../../lib/realtime';
import { formatNumber, formatPercent } from '../../lib/format';
import { EmptyState, ErrorNotice, Kpi, LiveBadge, PageHeader, Skeleton } from '../../ui';
import { ChannelChart } from './ChannelChart';
import { FilterBar } from './FilterBar';
import { LiveFeed } from './LiveFeed';
import { SegmentChart } from './SegmentChart';
import { TrendChart } from './TrendChart';
import {
  DEFAULT_FILTERS, RANGE_GROUP, RANGE_LABEL, difference, relativeChange, sentimentBounds, serializeFilters, shareNegative, windows,
} from './filters';
import { useFilters } from './useFilters';
import { useMinute } from './useMinute';
import type { InteractionList, Metrics, Trends } from './types';
import './insights.css';

const CHANNEL = 'insights';
const FEED = ['insights', 'feed'];
const AGGREGATES = [['insights', 'metrics'], ['insights', 'trends'], ['insights', 'segments']];
const keep = { placeholderData: <T,>(prev: T | undefined) => prev };


const points = (d: number) => `${d > 0 ? '+' : d < 0 ? '−' : ''}${formatNumber(Math.abs(d * 100), 1)} pts`;
const signed = (d: number) => `${d > 0 ? '+' : d < 0 ? '−' : ''}${formatNumber(Math.abs(d), 3)}`;

/**
 * Starts a query's first fetch while the page renders, before it commits: React holds a
 * suspended page back for a few hundred milliseconds after its chunk arrived, and queries
 * start only once mounted. Idempotent: a query already known to the cache is left alone.
 */
function useEarlyFetch() {
  const qc = useQueryClient();
  return (key: string[], path: string, query: Query) => {
    const queryKey = apiKey(key, path, query);
    if (qc.getQueryState(queryKey)) return;
    void qc.prefetchQuery({ queryKey, queryFn: ({ signal }) => cairn.get(path, { query, signal }) });
  };
}

export default function InsightsPage() {
  const [filters, setFilters] = useFilters();
  const now = useMinute();
  const { current, previous } = windows(filters.range, now);
  const segments = filters.segments.length ? filters.segments.join(',') : undefined;
  const channels = filters.channels.length ? filters.channels.join(',') : undefined;
  const customer = filters.customer ?? undefined;

  const early = useEarlyFetch();
  early(['insights', 'metrics'], `${API}/insights/metrics`, { ...current, segments });
  early(['insights', 'metrics'], `${API}/insights/metrics`, { ...previous, segments });
  const cur = useApiQuery<Metrics>(['insights', 'metrics'], `${API}/insights/metrics`, { ...current, segments }, keep);
  const prev = useApiQuery<Metrics>(['insights', 'metrics'], `${API}/insights/metrics`, { ...previous, segments }, keep);
  const trendQuery: Query = { ...current, group_by: RANGE_GROUP[filters.range], channels, customer_id: customer };
  early(['insights', 'trends'], `${API}/insights/sentiment-trends`, trendQuery);
  const trends = useApiQuery<Trends>(['insights', 'trends'], `${API}/insights/sentiment-trends`, trendQuery, keep);
  const bySegment = useApiQuery<Metrics>(['insights', 'segments'], `${API}/insights/metrics`,
    { ...current, segments, by_segment: true }, keep);
  const feedQuery: Query = { from: current.from, channels, segments, customer_id: customer, ...sentimentBounds(filters.sentiment), limit: 50 };
  const feed = useApiQuery<InteractionList>(FEED, `${API}/insights`, feedQuery, keep);

  useLiveInvalidate(CHANNEL, [FEED], 200);
  useLiveInvalidate(CHANNEL, AGGREGATES, 2000);
  const live = useChannelLive(CHANNEL);

  // performance marks: first data, then each redraw after a filter change
  const view = serializeFilters(filters);
  const headline = !!(cur.data && prev.data && trends.data) && !cur.isPlaceholderData && !prev.isPlaceholderData && !trends.isPlaceholderData;
  const settled = headline && !!bySegment.data && !!feed.data && !bySegment.isPlaceholderData && !feed.isPlaceholderData;
  const ready = useRef(false);
  useEffect(() => {
    if (headline && !ready.current) {
      ready.current = true;
      performance.mark('insights:ready');
    }
  }, [headline]);
  const complete = useRef(false);
  useEffect(() => {
    if (!settled) return;
    if (!complete.current) {
      complete.current = true;
      performance.mark('insights:complete');
    }
    const started = performance.getEntriesByName('insights:filter', 'mark').at(-1);
    if (!started) return;
    performance.mark('insights:redrawn');
    performance.measure('insights:filter', 'insights:filter', 'insights:redrawn');
    performance.clearMarks('insights:filter');
  }, [settled, view]);

  const m = cur.data;
  const p = prev.data;
  const kpiLoading = !m || !p;
  const filtered = serializeFilters({ ...filters, range: DEFAULT_FILTERS.range }) !== '';
  const timeZone = trends.data?.timezone ?? 'UTC';

  return (
    <div className="insights" data-view={view} data-settled={settled ? 'true' : 'false'}>
      <PageHeader title="Insights"><LiveBadge live={live} /></PageHeader>
      <FilterBar filters={filters} onChange={setFilters} />
      <p className="muted insights-scope">
        The last {RANGE_LABEL[filters.range]}, compared with the {RANGE_LABEL[filters.range]} before. Tiles, channels and
        segments follow the range and segments; the trend the range, channels and customer; the feed every filter.
      </p>

      {cur.error && !m ? <ErrorNotice error={cur.error} onRetry={() => void cur.refetch()} /> : (
        <div className="grid grid-kpi insights-kpis">
          <Kpi label="Interactions" loading={kpiLoading} value={m?.interactions} change={relativeChange(m?.interactions, p?.interactions)} />
          <Kpi label="Active customers" loading={kpiLoading} value={m?.active_customers}
            change={relativeChange(m?.active_customers, p?.active_customers)} />
          <Kpi label="Average sentiment" loading={kpiLoading} value={m?.average_compound} format={(n) => formatNumber(n, 3)}
            change={difference(m?.average_compound, p?.average_compound)} formatDelta={signed} />
          <Kpi label="Share negative" loading={kpiLoading} value={shareNegative(m?.sentiment)} format={(n) => formatPercent(n)}
            change={difference(shareNegative(m?.sentiment), shareNegative(p?.sentiment))} formatDelta={points} higherIsBetter={false} />
        </div>
      )}

      <section className="card insights-trend" aria-labelledby="insights-trend-title">
        <div className="card-header">
          <h2 id="insights-trend-title">Sentiment trend</h2>
          <span className="muted">per {RANGE_GROUP[filters.range]}, times in {timeZone}</span>
        </div>
        {trends.error && !trends.data ? <ErrorNotice error={trends.error} onRetry={() => void trends.refetch()} />
          : trends.data ? (
            <TrendChart buckets={trends.data.buckets} groupBy={trends.data.group_by} timeZone={trends.data.timezone} />
          ) : <div className="trend-placeholder"><Skeleton block /></div>}
        {trends.data && !trends.data.buckets.some((b) => b.interactions) && (
          <p className="muted">No interactions in this range{filtered ? ' with these filters' : ''}.</p>
        )}
      </section>

      <div className="insights-pair">
        <section className="card" aria-labelledby="insights-channels-title">
          <h2 id="insights-channels-title">Channels</h2>
          {cur.error && !m ? <ErrorNotice error={cur.error} /> : !m ? <Skeleton lines={5} />
            : m.interactions === 0
              ? <EmptyState title="No interactions in this period">Pick a longer time range, or ingest interactions through the API.</EmptyState>
              : <ChannelChart counts={m.by_channel} />}
        </section>
        <section className="card" aria-labelledby="insights-segments-title">
          <h2 id="insights-segments-title">Sentiment by segment</h2>
          {bySegment.error && !bySegment.data ? <ErrorNotice error={bySegment.error} onRetry={() => void bySegment.refetch()} />
            : !bySegment.data ? <Skeleton lines={5} />
              : !bySegment.data.by_segment?.length
                ? <EmptyState title="No interactions in this period">Segments come from the customers (PUT /api/v1/customers/&#123;id&#125;).</EmptyState>
                : <SegmentChart segments={bySegment.data.by_segment} />}
        </section>
      </div>

      <section className="card" aria-labelledby="insights-feed-title">
        <div className="card-header">
          <h2 id="insights-feed-title">Live feed</h2>
          <span className="muted">{feed.data ? `latest ${formatNumber(feed.data.items.length)}` : ''}</span>
        </div>
        <LiveFeed items={feed.data?.items} loading={feed.isLoading} error={feed.error} onRetry={() => void feed.refetch()}
          filtered={filtered} onCustomer={(id) => setFilters({ customer: id })} />
      </section>
    </div>
  );
}
