// A table over @tanstack/react-table: sorting (by the rows at hand, or by the server when
// `onSortingChange` is given with `manualSorting`), cursor pagination (`pagination`, from
// lib/query useCursorQuery().pager) and a column chooser. Loading shows skeleton rows of the
// same height, no rows shows `empty`, an error shows ErrorNotice.
import {
  flexRender, getCoreRowModel, getSortedRowModel, useReactTable,
  type ColumnDef, type OnChangeFn, type SortingState, type VisibilityState,
} from '@tanstack/react-table';
import { useId, useState, type ReactNode } from 'react';
import type { CursorPager } from '../lib/query';
import { Button } from './Button';
import { ErrorNotice } from './ErrorNotice';
import { Skeleton } from './Skeleton';

export type { ColumnDef, SortingState };

/** Column `meta` the table understands: `numeric` right-aligns (tabular figures). */
export interface ColumnMeta {
  numeric?: boolean;
}

export interface DataTableProps<T> {
  /** The accessible name of the table (its caption; hidden unless showCaption). */
  caption: string;
  showCaption?: boolean;
  columns: ColumnDef<T, any>[];
  /** The rows; undefined while loading. */
  data: T[] | undefined;
  loading?: boolean;
  error?: unknown;
  onRetry?: () => void;
  /** Shown when there are no rows (an EmptyState saying what to do). */
  empty?: ReactNode;
  getRowId?: (row: T, index: number) => string;
  pagination?: CursorPager;
  /** Controlled sorting (e.g. kept in the URL). */
  sorting?: SortingState;
  onSortingChange?: OnChangeFn<SortingState>;
  /** The server sorts (the rows come sorted); otherwise the rows at hand are sorted. */
  manualSorting?: boolean;
  /** Show the column chooser (default true). */
  columnChooser?: boolean;
  /** Column ids hidden at first. */
  initialHidden?: string[];
  /** Skeleton rows while loading (default 5). */
  skeletonRows?: number;
}

export function DataTable<T>({
  caption, showCaption = false, columns, data, loading, error, onRetry, empty, getRowId, pagination,
  sorting: sortingProp, onSortingChange, manualSorting = false, columnChooser = true, initialHidden = [],
  skeletonRows = 5,
}: DataTableProps<T>) {
  const [ownSorting, setOwnSorting] = useState<SortingState>([]);
  const [visibility, setVisibility] = useState<VisibilityState>(() => Object.fromEntries(initialHidden.map((id) => [id, false])));
  const sorting = sortingProp ?? ownSorting;
  const table = useReactTable({
    data: data ?? [],
    columns,
    state: { sorting, columnVisibility: visibility },
    onSortingChange: onSortingChange ?? setOwnSorting,
    onColumnVisibilityChange: setVisibility,
    getRowId,
    manualSorting,
    getCoreRowModel: getCoreRowModel(),
    getSortedRowModel: getSortedRowModel(),
  });
  const visibleColumns = table.getVisibleLeafColumns();
  const rows = table.getRowModel().rows;
  const showSkeleton = loading && !data;

  if (error && !data) return <ErrorNotice error={error} onRetry={onRetry} />;

  return (
    <div className="data-table">
      {columnChooser && (
        <div className="table-toolbar">
          <ColumnChooser table={table} />
        </div>
      )}
      {!showSkeleton && rows.length === 0 && empty ? empty : (
        <div className="table-wrap">
          <table className="table" aria-busy={loading || undefined}>
            <caption className={showCaption ? undefined : 'visually-hidden'}>{caption}</caption>
            <thead>
              {table.getHeaderGroups().map((hg) => (
                <tr key={hg.id}>
                  {hg.headers.map((h) => {
                    const sorted = h.column.getIsSorted();
                    const numeric = (h.column.columnDef.meta as ColumnMeta | undefined)?.numeric;
                    const label = h.isPlaceholder ? null : flexRender(h.column.columnDef.header, h.getContext());
                    return (
                      <th key={h.id} scope="col" className={numeric ? 'num' : undefined}
                        aria-sort={sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : undefined}>
                        {h.column.getCanSort() && !h.isPlaceholder ? (
                          <button type="button" className="sort-button" onClick={h.column.getToggleSortingHandler()}>
                            {label}
                            <span aria-hidden="true">{sorted === 'asc' ? '▲' : sorted === 'desc' ? '▼' : '↕'}</span>
                          </button>
                        ) : label}
                      </th>
                    );
                  })}
                </tr>
              ))}
            </thead>
            <tbody>
              {showSkeleton
                ? Array.from({ length: skeletonRows }, (_, i) => (
                  <tr key={`s${i}`}>
                    {visibleColumns.map((c) => <td key={c.id}><Skeleton /></td>)}
                  </tr>
                ))
                : rows.map((row) => (
                  <tr key={row.id}>
                    {row.getVisibleCells().map((cell) => (
                      <td key={cell.id} className={(cell.column.columnDef.meta as ColumnMeta | undefined)?.numeric ? 'num' : undefined}>
                        {flexRender(cell.column.columnDef.cell, cell.getContext())}
                      </td>
                    ))}
                  </tr>
                ))}
            </tbody>
          </table>
        </div>
      )}
      {error != null && data && <ErrorNotice error={error} onRetry={onRetry} />}
      {pagination && (pagination.hasPrev || pagination.hasNext) && <Pager pager={pagination} caption={caption} />}
    </div>
  );
}

function Pager({ pager, caption }: { pager: CursorPager; caption: string }) {
  return (
    <nav className="table-pager" aria-label={`${caption}: pages`}>
      <Button size="small" onClick={pager.prev} disabled={!pager.hasPrev}>Previous</Button>
      <span className="table-pager-page" aria-live="polite">Page {pager.page}</span>
      <Button size="small" onClick={pager.next} disabled={!pager.hasNext}>Next</Button>
    </nav>
  );
}

function ColumnChooser<T>({ table }: { table: ReturnType<typeof useReactTable<T>> }) {
  const id = useId();
  const hideable = table.getAllLeafColumns().filter((c) => c.getCanHide());
  const visibleCount = hideable.filter((c) => c.getIsVisible()).length;
  return (
    <details className="column-chooser">
      <summary className="btn btn-small">Columns</summary>
      <div className="column-chooser-panel">
        <fieldset>
          <legend>Show columns</legend>
          {hideable.map((c) => {
            const header = c.columnDef.header;
            const name = typeof header === 'string' ? header : c.id;
            const last = c.getIsVisible() && visibleCount === 1; // keep at least one
            return (
              <div key={c.id} className="checkbox">
                <input id={`${id}-${c.id}`} type="checkbox" checked={c.getIsVisible()} disabled={last}
                  onChange={c.getToggleVisibilityHandler()} />
                <label htmlFor={`${id}-${c.id}`}>{name}</label>
              </div>
            );
          })}
        </fieldset>
      </div>
    </details>
  );
}
