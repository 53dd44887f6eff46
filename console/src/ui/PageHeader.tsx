import { useEffect, type ReactNode } from 'react';

/** A page's h1 and its actions (buttons at the right; they wrap under it on a phone). A text
 *  title also names the browser tab ("Customers · Cairn"). */
export function PageHeader({ title, children }: { title: ReactNode; children?: ReactNode }) {
  useEffect(() => {
    if (typeof title === 'string') document.title = `${title} · Cairn`;
  }, [title]);
  return (
    <div className="page-header">
      <h1 tabIndex={-1}>{title}</h1>
      {children && <div className="page-header-actions">{children}</div>}
    </div>
  );
}
