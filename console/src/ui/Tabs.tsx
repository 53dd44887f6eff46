// Tabs (WAI-ARIA tabs pattern): arrow keys, Home and End move between tabs; only the
// selected tab is in the Tab order. Controlled (`value` + `onChange`, e.g. from the URL) or not.
import { useId, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';

export interface TabItem {
  id: string;
  label: ReactNode;
  content: ReactNode;
}

export function Tabs({ tabs, value, onChange, label }: { tabs: TabItem[]; value?: string; onChange?: (id: string) => void; label: string }) {
  const [own, setOwn] = useState(tabs[0]?.id);
  const selected = value ?? own;
  const base = useId();
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  const select = (id: string) => {
    setOwn(id);
    onChange?.(id);
  };
  const onKeyDown = (e: KeyboardEvent, i: number) => {
    const last = tabs.length - 1;
    const to = e.key === 'ArrowRight' ? (i === last ? 0 : i + 1) : e.key === 'ArrowLeft' ? (i === 0 ? last : i - 1)
      : e.key === 'Home' ? 0 : e.key === 'End' ? last : -1;
    if (to < 0) return;
    e.preventDefault();
    select(tabs[to].id);
    refs.current[to]?.focus();
  };
  return (
    <div className="tabs">
      <div role="tablist" aria-label={label} className="tabs-list">
        {tabs.map((t, i) => (
          <button key={t.id} ref={(el) => { refs.current[i] = el; }} type="button" role="tab" className="tab"
            id={`${base}-tab-${t.id}`} aria-controls={`${base}-panel-${t.id}`} aria-selected={t.id === selected}
            tabIndex={t.id === selected ? 0 : -1} onClick={() => select(t.id)} onKeyDown={(e) => onKeyDown(e, i)}>
            {t.label}
          </button>
        ))}
      </div>
      {tabs.filter((t) => t.id === selected).map((t) => (
        <div key={t.id} role="tabpanel" id={`${base}-panel-${t.id}`} aria-labelledby={`${base}-tab-${t.id}`} tabIndex={0}>
          {t.content}
        </div>
      ))}
    </div>
  );
}
