// A customer's UUID in little room.

/** The first block of a UUID on screen (it fits a phone's column), the whole id for screen readers. */
export function ShortId({ id }: { id: string }) {
  return (
    <>
      <span className="id-text id-short" aria-hidden="true">{id.slice(0, 8)}…</span>
      <span className="visually-hidden">{id}</span>
    </>
  );
}
