// Numbers, dates and durations in the browser's locale (Intl). The API's times are integer
// Unix milliseconds (UTC); these show them in the browser's time zone unless one is given.

const cache = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat | Intl.RelativeTimeFormat>();

function cached<T>(key: string, make: () => T): T {
  let f = cache.get(key) as T | undefined;
  if (!f) {
    f = make();
    cache.set(key, f as never);
  }
  return f;
}

const locale = (): string | undefined => undefined; // undefined = the browser's locale

/** 12 345 / 12,345 (grouping of the locale); fraction digits as given (default 0–2). */
export function formatNumber(n: number | null | undefined, maxFraction = 2): string {
  if (n == null || Number.isNaN(n)) return '—';
  const f = cached(`n${maxFraction}`, () => new Intl.NumberFormat(locale(), { maximumFractionDigits: maxFraction }));
  return (f as Intl.NumberFormat).format(n);
}

/** 1.2K, 3.4M */
export function formatCompact(n: number | null | undefined): string {
  if (n == null || Number.isNaN(n)) return '—';
  const f = cached('c', () => new Intl.NumberFormat(locale(), { notation: 'compact', maximumFractionDigits: 1 }));
  return (f as Intl.NumberFormat).format(n);
}

/** A fraction (0.125) as a percentage (12.5 %). */
export function formatPercent(fraction: number | null | undefined, maxFraction = 1): string {
  if (fraction == null || Number.isNaN(fraction)) return '—';
  const f = cached(`p${maxFraction}`, () => new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: maxFraction }));
  return (f as Intl.NumberFormat).format(fraction);
}

/** A signed change as a percentage (+4.2 %, −1 %). */
export function formatChange(fraction: number | null | undefined, maxFraction = 1): string {
  if (fraction == null || Number.isNaN(fraction)) return '—';
  const f = cached(`s${maxFraction}`, () => new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: maxFraction, signDisplay: 'exceptZero' }));
  return (f as Intl.NumberFormat).format(fraction);
}

/** Date and time of a Unix-ms instant, e.g. "7 Dec 2026, 14:03". */
export function formatDateTime(ms: number | null | undefined, timeZone?: string): string {
  if (ms == null) return '—';
  const f = cached(`dt${timeZone ?? ''}`, () => new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short', timeZone }));
  return (f as Intl.DateTimeFormat).format(ms);
}

/** The date of a Unix-ms instant, e.g. "7 Dec 2026". */
export function formatDate(ms: number | null | undefined, timeZone?: string): string {
  if (ms == null) return '—';
  const f = cached(`d${timeZone ?? ''}`, () => new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeZone }));
  return (f as Intl.DateTimeFormat).format(ms);
}

/** The time of a Unix-ms instant with seconds, e.g. "14:03:07". */
export function formatTime(ms: number | null | undefined, timeZone?: string): string {
  if (ms == null) return '—';
  const f = cached(`t${timeZone ?? ''}`, () => new Intl.DateTimeFormat(locale(), { timeStyle: 'medium', timeZone }));
  return (f as Intl.DateTimeFormat).format(ms);
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600e3], ['month', 30 * 24 * 3600e3], ['week', 7 * 24 * 3600e3],
  ['day', 24 * 3600e3], ['hour', 3600e3], ['minute', 60e3], ['second', 1e3],
];

/** "3 minutes ago", "in 2 days"; `now` defaults to Date.now(). */
export function formatRelative(ms: number | null | undefined, now = Date.now()): string {
  if (ms == null) return '—';
  const f = cached('r', () => new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' })) as Intl.RelativeTimeFormat;
  const diff = ms - now;
  for (const [unit, size] of UNITS) {
    if (Math.abs(diff) >= size || unit === 'second') return f.format(Math.round(diff / size), unit);
  }
  return f.format(0, 'second');
}

/** A length of time in words of the locale's units: "45 seconds", "3 minutes", "2 hours". */
export function formatDuration(ms: number): string {
  const [unit, size] = UNITS.slice(3).find(([, s]) => ms >= s) ?? ['second', 1e3];
  const n = Math.max(1, Math.round(ms / size));
  const f = cached(`u${unit}`, () => new Intl.NumberFormat(locale(), { style: 'unit', unit, unitDisplay: 'long' }));
  return (f as Intl.NumberFormat).format(n);
}
