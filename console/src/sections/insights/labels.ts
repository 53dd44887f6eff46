// Bucket and axis labels in the report's time zone, in the browser's locale.
const cache = new Map<string, Intl.DateTimeFormat>();

function fmt(key: string, opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  let f = cache.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(undefined, opts);
    cache.set(key, f);
  }
  return f;
}

/** "14:00" for an hour, "7 Dec" for a day or week ("7 Dec 2026, 14:00" in full). */
export function bucketLabel(ms: number, groupBy: string, timeZone: string, short = false): string {
  if (groupBy === 'hour') {
    return short
      ? fmt(`h${timeZone}`, { hour: '2-digit', minute: '2-digit', timeZone }).format(ms)
      : fmt(`hf${timeZone}`, { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(ms);
  }
  return short
    ? fmt(`d${timeZone}`, { day: 'numeric', month: 'short', timeZone }).format(ms)
    : fmt(`df${timeZone}`, { dateStyle: 'medium', timeZone }).format(ms);
}

/** At most `max` of `xs`, evenly spaced, the first always kept. */
export function thin(xs: number[], max: number): number[] {
  if (xs.length <= max) return xs;
  const step = Math.ceil(xs.length / max);
  return xs.filter((_, i) => i % step === 0);
}
