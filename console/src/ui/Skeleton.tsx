// Placeholders shaped like the content they stand for, so nothing moves when data arrives.

export function Skeleton({ lines = 1, block = false, className }: { lines?: number; block?: boolean; className?: string }) {
  if (block) return <span className={['skeleton skeleton-block', className].filter(Boolean).join(' ')} aria-hidden="true" />;
  return (
    <span aria-hidden="true">
      {Array.from({ length: lines }, (_, i) => <span key={i} className={['skeleton skeleton-line', className].filter(Boolean).join(' ')} />)}
    </span>
  );
}

/** A whole page loading (the Suspense fallback while a section's chunk loads). */
export function PageSkeleton() {
  return (
    <div className="skeleton-page" role="status" aria-live="polite">
      <span className="visually-hidden">Loading…</span>
      <span className="skeleton skeleton-title" aria-hidden="true" />
      <Skeleton lines={3} />
      <Skeleton block />
    </div>
  );
}
