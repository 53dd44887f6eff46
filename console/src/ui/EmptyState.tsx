import type { ReactNode } from 'react';

/** Nothing to show yet: say so, and what to do about it (`action`: a button or link). */
export function EmptyState({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="empty-state">
      <h2>{title}</h2>
      {children && <p>{children}</p>}
      {action}
    </div>
  );
}
