// The answers of the insights routes the dashboard reads (sdk/js/api.d.ts).
import type { components } from '@cairn/sdk';

export type TrendBucket = components['schemas']['TrendBucket'];
export type Trends = components['schemas']['SentimentTrends'];
export type Metrics = components['schemas']['InsightMetrics'];
export type SegmentCounts = components['schemas']['SegmentCounts'];
export type Interaction = components['schemas']['Interaction'];
export type InteractionList = components['schemas']['InteractionList'];
