import { formatChange, formatDuration, formatNumber, formatPercent, formatRelative } from './format';

// jsdom's locale is the process's; these check the shapes, in whichever locale that is
describe('format', () => {
  test('numbers, percentages and changes through Intl; missing values are a dash', () => {
    expect(formatNumber(1234.5678)).toBe(new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 }).format(1234.57));
    expect(formatNumber(null)).toBe('—');
    expect(formatPercent(0.125)).toBe(new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 }).format(0.125));
    expect(formatChange(0.1)).toMatch(/^\+/);
    expect(formatChange(-0.1)).toMatch(/^[-−]/);
    expect(formatChange(undefined)).toBe('—');
  });

  test('relative times pick the largest whole unit', () => {
    const now = Date.UTC(2026, 11, 7, 12);
    const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
    expect(formatRelative(now - 3 * 60_000, now)).toBe(rtf.format(-3, 'minute'));
    expect(formatRelative(now + 2 * 86_400_000, now)).toBe(rtf.format(2, 'day'));
    expect(formatRelative(now - 10_000, now)).toBe(rtf.format(-10, 'second'));
  });

  test('durations in words', () => {
    const unit = (n: number, u: string) => new Intl.NumberFormat(undefined, { style: 'unit', unit: u, unitDisplay: 'long' }).format(n);
    expect(formatDuration(120_000)).toBe(unit(2, 'minute'));
    expect(formatDuration(45_000)).toBe(unit(45, 'second'));
    expect(formatDuration(3 * 3600_000)).toBe(unit(3, 'hour'));
  });
});
