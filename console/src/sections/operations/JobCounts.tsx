// The tenant's jobs by state as tiles; a tile filters the list by its state (again: all).
import { formatNumber } from '../../lib/format';
import { Skeleton } from '../../ui';
import { JOB_STATES, type JobCounts as Counts, type JobState } from './types';

export const STATE_LABELS: Record<JobState, string> = { queued: 'Queued', running: 'Running', done: 'Done', dead: 'Dead letters' };

export function JobCounts({ counts, selected, onSelect }: {
  counts: Counts | undefined; selected: JobState | ''; onSelect: (state: JobState | '') => void;
}) {
  return (
    <ul className="ops-tiles" aria-label="Jobs by state">
      {JOB_STATES.map((s) => {
        const n = counts?.[s];
        const alarming = s === 'dead' && (n ?? 0) > 0;
        return (
          <li key={s}>
            <button type="button" className={`card ops-tile${alarming ? ' ops-tile-alarm' : ''}`} aria-pressed={selected === s}
              onClick={() => onSelect(selected === s ? '' : s)}>
              <span className="ops-tile-label">{STATE_LABELS[s]}</span>
              <span className="ops-tile-value num">{counts ? formatNumber(n ?? 0) : <Skeleton />}</span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}

/** A job's state as a labelled badge. */
export function StateBadge({ state }: { state: JobState }) {
  return <span className={`ops-badge ops-badge-${state}`}>{STATE_LABELS[state] === 'Dead letters' ? 'Dead' : STATE_LABELS[state]}</span>;
}
