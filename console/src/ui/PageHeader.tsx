import type { ReactNode } from 'react';

/** A page's h1 and its actions (buttons at the right; they wrap under it on a phone). */
export function PageHeader({ title, children }: { title: ReactNode; children?: ReactNode }) {
  return (
    <div className="page-header">
      <h1>{title}</h1>
      {children && <div className="page-header-actions">{children}</div>}
    </div>
  );
}
