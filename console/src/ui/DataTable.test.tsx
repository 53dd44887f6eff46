import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { cairn } from '../lib/sdk';
import { useCursorQuery } from '../lib/query';
import { DataTable, type ColumnDef } from './DataTable';
import { EmptyState } from './EmptyState';

interface Row { id: string; name: string; n: number }

// Three pages of the API, by cursor: the first has no cursor, the last no next_cursor.
const PAGES: Record<string, { items: Row[]; next_cursor: string | null }> = {
  '': { items: [{ id: 'a', name: 'Ada', n: 3 }, { id: 'b', name: 'Bo', n: 1 }], next_cursor: 'c1' },
  c1: { items: [{ id: 'c', name: 'Cy', n: 2 }, { id: 'd', name: 'Di', n: 9 }], next_cursor: 'c2' },
  c2: { items: [{ id: 'e', name: 'Ed', n: 5 }], next_cursor: null },
};

const columns: ColumnDef<Row, any>[] = [
  { accessorKey: 'name', header: 'Name' },
  { accessorKey: 'n', header: 'Count', meta: { numeric: true } },
];

function People() {
  const { items, pager, isLoading, error } = useCursorQuery<Row>(['people'], '/api/v1/people', { q: 'x' }, 2);
  return <DataTable caption="People" columns={columns} data={items} loading={isLoading} error={error} pagination={pager}
    getRowId={(r) => r.id} empty={<EmptyState title="No people yet" />} />;
}

function renderWithQuery(ui: React.ReactElement) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: 30_000 } } });
  return render(<QueryClientProvider client={qc}>{ui}</QueryClientProvider>);
}

const names = () => within(screen.getByRole('table')).getAllByRole('row').slice(1).map((r) => r.querySelector('td')?.textContent);

describe('DataTable with cursor pagination', () => {
  test("next follows the API's next_cursor, previous goes back to the cursors seen, the ends are disabled", async () => {
    const asked: unknown[] = [];
    vi.spyOn(cairn, 'get').mockImplementation(async (_path: string, opts?: unknown) => {
      const query = (opts as { query: { cursor?: string | null; limit: number; q: string } }).query;
      asked.push({ cursor: query.cursor ?? null, limit: query.limit, q: query.q });
      return PAGES[query.cursor ?? ''];
    });
    const user = userEvent.setup();
    renderWithQuery(<People />);
    await waitFor(() => expect(names()).toEqual(['Ada', 'Bo']));
    const prev = screen.getByRole('button', { name: 'Previous' });
    const next = screen.getByRole('button', { name: 'Next' });
    expect(prev.hasAttribute('disabled')).toBe(true);
    expect(screen.getByText('Page 1')).toBeTruthy();

    await user.click(next);
    await waitFor(() => expect(names()).toEqual(['Cy', 'Di']));
    await user.click(next);
    await waitFor(() => expect(names()).toEqual(['Ed']));
    expect(screen.getByText('Page 3')).toBeTruthy();
    expect(next.hasAttribute('disabled')).toBe(true);

    await user.click(prev);
    await waitFor(() => expect(names()).toEqual(['Cy', 'Di']));
    expect(asked).toEqual([
      { cursor: null, limit: 2, q: 'x' }, { cursor: 'c1', limit: 2, q: 'x' }, { cursor: 'c2', limit: 2, q: 'x' },
    ]); // the way back came from the cache
  });

  test('sorting a column orders the rows and says so; the column chooser hides a column', async () => {
    const user = userEvent.setup();
    render(<DataTable caption="People" columns={columns} data={[...PAGES[''].items, ...PAGES.c1.items]} />);
    await user.click(screen.getByRole('button', { name: /Count/ })); // numbers: largest first
    expect(names()).toEqual(['Di', 'Ada', 'Cy', 'Bo']);
    expect(screen.getByRole('columnheader', { name: /Count/ }).getAttribute('aria-sort')).toBe('descending');
    await user.click(screen.getByRole('button', { name: /Count/ }));
    expect(names()).toEqual(['Bo', 'Cy', 'Ada', 'Di']);
    expect(screen.getByRole('columnheader', { name: /Count/ }).getAttribute('aria-sort')).toBe('ascending');

    await user.click(screen.getByText('Columns'));
    await user.click(screen.getByRole('checkbox', { name: 'Count' }));
    expect(screen.queryByRole('columnheader', { name: /Count/ })).toBeNull();
    expect(screen.getByRole('checkbox', { name: 'Name' }).hasAttribute('disabled')).toBe(true); // the last one stays
  });

  test('no rows shows the empty state, loading shows skeleton rows', () => {
    const { rerender } = render(<DataTable caption="People" columns={columns} data={undefined} loading />);
    expect(within(screen.getByRole('table')).getAllByRole('row')).toHaveLength(6);
    rerender(<DataTable caption="People" columns={columns} data={[]} empty={<EmptyState title="No people yet" />} />);
    expect(screen.getByRole('heading', { name: 'No people yet' })).toBeTruthy();
  });
});
