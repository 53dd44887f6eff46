import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, within } from '@testing-library/react';
import { LiveFeed } from './LiveFeed';
import { ChannelChart } from './ChannelChart';
import { SegmentChart } from './SegmentChart';
import type { Interaction } from './types';

function row(id: string, over: Partial<Interaction> = {}): Interaction {
  return {
    id, customer_id: '0190a000-0000-7000-8000-000000000001', timestamp: Date.UTC(2026, 11, 7, 10), channel: 'chat',
    event_type: 'message', content: `text of ${id}`, metadata: null, enrichment: {} as Interaction['enrichment'],
    sentiment: null, processed_at: null, created_at: Date.UTC(2026, 11, 7, 10), ...over,
  };
}

const noop = () => {};

describe('LiveFeed', () => {
  it('shows content, "analysing…" until scored, then the label; highlights rows that arrive later', () => {
    const first = [row('a')];
    const { rerender, container } = render(<LiveFeed items={first} loading={false} error={null} onRetry={noop} filtered={false} onCustomer={noop} />);
    expect(screen.getByText('text of a')).toBeTruthy();
    expect(screen.getByText('analysing…')).toBeTruthy();
    const scored = row('a', { processed_at: 1, sentiment: { label: 'negative', compound: -0.54, pos: 0, neu: 0.5, neg: 0.5, confidence: 0.5 } });
    rerender(<LiveFeed items={[row('b', { timestamp: Date.UTC(2026, 11, 7, 11) }), scored]} loading={false} error={null} onRetry={noop}
      filtered={false} onCustomer={noop} />);
    const items = screen.getAllByRole('listitem');
    expect(items.map((li) => li.getAttribute('data-id'))).toEqual(['b', 'a']);
    expect(within(items[1]).getByText(/negative/)).toBeTruthy();
    expect(container.querySelectorAll('.feed-row-new')).toHaveLength(1);
    expect(items[0].className).toContain('feed-row-new');
  });

  it('says what to do when empty, with and without filters; the customer link filters', () => {
    const { rerender } = render(<LiveFeed items={[]} loading={false} error={null} onRetry={noop} filtered={false} onCustomer={noop} />);
    expect(screen.getByRole('heading', { name: 'No interactions yet' })).toBeTruthy();
    rerender(<LiveFeed items={[]} loading={false} error={null} onRetry={noop} filtered onCustomer={noop} />);
    expect(screen.getByRole('heading', { name: 'No interactions match these filters' })).toBeTruthy();
    const onCustomer = vi.fn();
    rerender(<LiveFeed items={[row('c')]} loading={false} error={null} onRetry={noop} filtered onCustomer={onCustomer} />);
    fireEvent.click(screen.getByRole('button', { name: /Show only customer/ }));
    expect(onCustomer).toHaveBeenCalledWith('0190a000-0000-7000-8000-000000000001');
  });
});

describe('charts have a text alternative', () => {
  it('channels: a table with counts and shares; the drawing is hidden from assistive technology', () => {
    const { container } = render(<ChannelChart counts={{ web: 3, mobile: 0, email: 1, chat: 0, phone: 0 }} />);
    const table = screen.getByRole('table', { name: 'Interactions by channel' });
    expect(within(table).getByRole('row', { name: /web 3 75/ })).toBeTruthy();
    expect(container.querySelector('svg')?.getAttribute('aria-hidden')).toBe('true');
  });

  it('segments: shares of each label among the analysed, "No segment" for customers without one', () => {
    render(<SegmentChart segments={[
      { segment: 'gold', interactions: 4, analysed: 4, positive: 2, neutral: 1, negative: 1, average_compound: 0.2 },
      { segment: null, interactions: 1, analysed: 0, positive: 0, neutral: 0, negative: 0, average_compound: null },
    ]} />);
    const table = screen.getByRole('table', { name: 'Sentiment by segment' });
    expect(within(table).getByRole('row', { name: /gold 4 50\s?% 25\s?% 25\s?%/ })).toBeTruthy();
    expect(within(table).getByRole('row', { name: /No segment 1 — — — none analysed/ })).toBeTruthy();
  });
});
