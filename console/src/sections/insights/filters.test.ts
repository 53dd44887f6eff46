import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FILTERS, difference, parseFilters, relativeChange, sentimentBounds, serializeFilters, shareNegative, windows,
} from './filters';
import { thin } from './labels';

describe('filters in the query string', () => {
  it('round-trips every filter, defaults left out', () => {
    const f = { range: '30d' as const, channels: ['email' as const, 'chat' as const], segments: ['gold', 'silver'],
      sentiment: 'negative' as const, customer: '0190a000-0000-7000-8000-000000000001' };
    const qs = serializeFilters(f);
    expect(qs).toBe('range=30d&channels=email,chat&segments=gold,silver&sentiment=negative&customer=0190a000-0000-7000-8000-000000000001');
    expect(parseFilters(qs)).toEqual(f);
    expect(serializeFilters(DEFAULT_FILTERS)).toBe('');
    expect(parseFilters('')).toEqual(DEFAULT_FILTERS);
  });

  it('drops what the API would refuse and keeps one order per view', () => {
    expect(parseFilters('range=1y&channels=fax,chat,web,chat&sentiment=happy&customer=42')).toEqual({
      ...DEFAULT_FILTERS, channels: ['web', 'chat'],
    });
    const many = Array.from({ length: 14 }, (_, i) => `s${i}`).join(',');
    expect(parseFilters(`segments=${many},s1`).segments).toHaveLength(10);
    expect(parseFilters('customer=0190A000-0000-7000-8000-00000000000F').customer).toBe('0190a000-0000-7000-8000-00000000000f');
  });
});

describe('periods', () => {
  it('ends at the next whole minute; the previous period is adjacent and as long', () => {
    const now = Date.UTC(2026, 11, 7, 10, 30, 15);
    const { current, previous } = windows('7d', now);
    expect(current.to).toBe(Date.UTC(2026, 11, 7, 10, 31));
    expect(current.to - current.from).toBe(7 * 86_400_000);
    expect(previous.to).toBe(current.from);
    expect(previous.to - previous.from).toBe(7 * 86_400_000);
    // on a minute boundary the window still includes now
    expect(windows('24h', Date.UTC(2026, 11, 7, 10, 31)).current.to).toBe(Date.UTC(2026, 11, 7, 10, 32));
  });
});

describe('KPI arithmetic', () => {
  it('changes against the previous period', () => {
    expect(relativeChange(120, 100)).toBeCloseTo(0.2);
    expect(relativeChange(5, 0)).toBeNull();
    expect(relativeChange(undefined, 3)).toBeNull();
    expect(difference(0.25, 0.5)).toBe(-0.25);
    expect(difference(null, 0.5)).toBeNull();
    expect(shareNegative({ positive: 6, neutral: 2, negative: 2 })).toBeCloseTo(0.2);
    expect(shareNegative({ positive: 0, neutral: 0, negative: 0 })).toBeNull();
  });

  it('maps a sentiment label onto the compound bounds the API labels with', () => {
    expect(sentimentBounds('positive')).toEqual({ sentiment_min: 0.05 });
    expect(sentimentBounds('negative')).toEqual({ sentiment_max: -0.05 });
    expect(sentimentBounds('neutral')).toEqual({ sentiment_min: -0.0499, sentiment_max: 0.0499 });
    expect(sentimentBounds(null)).toEqual({});
  });
});

describe('axis ticks', () => {
  it('keeps at most the number that fits, the first always', () => {
    const xs = Array.from({ length: 31 }, (_, i) => i);
    expect(thin(xs, 40)).toBe(xs);
    const t = thin(xs, 8);
    expect(t.length).toBeLessThanOrEqual(8);
    expect(t[0]).toBe(0);
  });
});
