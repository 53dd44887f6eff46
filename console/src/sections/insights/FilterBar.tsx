// The dashboard's filters: the time range, channels, sentiment, segments and one customer.
// Buttons and checkboxes apply at once; the two text fields apply with "Apply" (or Enter),
// and a customer id that is not a UUID is refused next to its field.
import { useEffect, useState, type FormEvent } from 'react';
import { Button, Field, Select, TextInput } from '../../ui';
import { CHANNELS, DEFAULT_FILTERS, RANGE_LABEL, RANGES, SENTIMENTS, isCustomerId, serializeFilters, type Filters } from './filters';

export function FilterBar({ filters, onChange }: { filters: Filters; onChange: (f: Partial<Filters>) => void }) {
  const [segments, setSegments] = useState(filters.segments.join(', '));
  const [customer, setCustomer] = useState(filters.customer ?? '');
  const [customerError, setCustomerError] = useState<string | undefined>();
  // the URL changed (back/forward, a row's customer link): the fields follow it
  useEffect(() => setSegments(filters.segments.join(', ')), [filters.segments]);
  useEffect(() => { setCustomer(filters.customer ?? ''); setCustomerError(undefined); }, [filters.customer]);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    const c = customer.trim();
    if (c && !isCustomerId(c)) {
      setCustomerError('Enter the customer id (a UUID such as 0190a000-0000-7000-8000-000000000001).');
      return;
    }
    setCustomerError(undefined);
    const segs = [...new Set(segments.split(',').map((s) => s.trim()).filter(Boolean))].slice(0, 10);
    onChange({ segments: segs, customer: c ? c.toLowerCase() : null });
  };
  const toggleChannel = (c: (typeof CHANNELS)[number]) => {
    const on = filters.channels.includes(c);
    onChange({ channels: on ? filters.channels.filter((x) => x !== c) : [...filters.channels, c] });
  };
  const filtered = serializeFilters({ ...filters, range: DEFAULT_FILTERS.range }) !== '';

  return (
    <form className="card insights-filters" aria-label="Filters" onSubmit={apply}>
      <div className="filter-row">
        <div role="group" aria-label="Time range" className="segmented">
          {RANGES.map((r) => (
            <button key={r} type="button" className="segmented-item" aria-pressed={filters.range === r}
              onClick={() => onChange({ range: r })} title={`The last ${RANGE_LABEL[r]}`}>
              {r}
            </button>
          ))}
        </div>
        <fieldset className="filter-channels">
          <legend>Channels</legend>
          {CHANNELS.map((c) => (
            <label key={c} className="check">
              <input type="checkbox" checked={filters.channels.includes(c)} onChange={() => toggleChannel(c)} /> {c}
            </label>
          ))}
        </fieldset>
      </div>
      <div className="filter-row">
        <Field label="Sentiment" className="filter-field">
          <Select value={filters.sentiment ?? ''} onChange={(e) => onChange({ sentiment: (e.target.value || null) as Filters['sentiment'] })}>
            <option value="">Any</option>
            {SENTIMENTS.map((s) => <option key={s} value={s}>{s}</option>)}
          </Select>
        </Field>
        <Field label="Segments (comma-separated)" className="filter-field">
          <TextInput value={segments} onChange={(e) => setSegments(e.target.value)} autoComplete="off" placeholder="gold, silver" />
        </Field>
        <Field label="Customer id" error={customerError} className="filter-field filter-customer">
          <TextInput value={customer} onChange={(e) => setCustomer(e.target.value)} autoComplete="off" spellCheck={false} />
        </Field>
        <div className="filter-actions">
          <Button type="submit">Apply</Button>
          <Button variant="ghost" disabled={!filtered}
            onClick={() => onChange({ channels: [], segments: [], sentiment: null, customer: null })}>
            Clear filters
          </Button>
        </div>
      </div>
    </form>
  );
}
