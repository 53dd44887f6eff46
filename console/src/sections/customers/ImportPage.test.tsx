import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { CairnError } from '@cairn/sdk';
import { cairn } from '../../lib/sdk';
import { ToastProvider } from '../../ui';
import ImportPage from './ImportPage';
import { csvFormSchema, estimateRecords, headerProblem } from './csvImport';

const GOOD = 'customer_id,timestamp,channel,event_type,content\n0190a000-0000-7000-8000-000000000001,1795341600000,chat,message,hello\n';

function renderPage() {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(<QueryClientProvider client={qc}><ToastProvider><ImportPage /></ToastProvider></QueryClientProvider>);
}

function csv(text: string, name = 'data.csv', type = 'text/csv') {
  return new File([text], name, { type });
}

describe('CSV header check', () => {
  test('the required columns in any order, with optional ones, quoted names and a BOM, pass', () => {
    expect(headerProblem(GOOD)).toBeNull();
    expect(headerProblem('\uFEFF"event_type",channel,timestamp,customer_id,metadata,idempotency_key\r\nx')).toBeNull();
  });

  test('missing, unknown and repeated columns are named', () => {
    expect(headerProblem('customer_id,timestamp,channel\n')).toBe('The first row must name the column event_type.');
    expect(headerProblem('customer_id,timestamp,channel,event_type,mood\n')).toBe('Unknown column: mood.');
    expect(headerProblem('customer_id,timestamp,channel,event_type,channel\n')).toBe('Repeated: channel.');
    expect(headerProblem('')).toBe('The file is empty.');
  });

  test('the record estimate counts the non-empty lines after the header', () => {
    expect(estimateRecords(GOOD)).toBe(1);
    expect(estimateRecords('h\r\na\r\n\r\nb')).toBe(2);
  });

  test('the form schema wants one non-empty .csv file', () => {
    const issues = (file: unknown) => csvFormSchema.safeParse({ file }).error?.issues.map((i) => i.message) ?? [];
    expect(issues(null)).toEqual(['Choose a CSV file']);
    expect(issues([])).toEqual(['Choose a CSV file']);
    expect(issues([csv('x', 'notes.txt', 'application/pdf')])).toEqual(['The file must be a .csv file']);
    expect(issues([csv('', 'empty.csv')])).toEqual(['The file is empty']);
    expect(issues([csv(GOOD)])).toEqual([]);
  });
});

describe('ImportPage form', () => {
  test('no file, a wrong header: the field says why and nothing is uploaded', async () => {
    const upload = vi.spyOn(cairn.insights, 'importCsv');
    const user = userEvent.setup({ applyAccept: false });
    renderPage();
    await user.click(screen.getByRole('button', { name: 'Upload and import' }));
    expect(await screen.findByText('Choose a CSV file')).toBeTruthy();
    expect(screen.getByLabelText('CSV file').getAttribute('aria-invalid')).toBe('true');

    await user.upload(screen.getByLabelText('CSV file'), csv('customer_id,when,channel,event_type\n'));
    await user.click(screen.getByRole('button', { name: 'Upload and import' }));
    expect(await screen.findByText('The first row must name the column timestamp; unknown column: when.')).toBeTruthy();
    expect(upload).not.toHaveBeenCalled();
  });

  test("the server's header error lands on the file field", async () => {
    vi.spyOn(cairn.insights, 'importCsv').mockRejectedValue(new CairnError({
      status: 422, type: 'urn:cairn:problem:validation-failed', detail: 'validation failed',
      errors: [{ field: 'header', message: 'unknown column "x"' }],
    }));
    const user = userEvent.setup({ applyAccept: false });
    renderPage();
    await user.upload(screen.getByLabelText('CSV file'), csv(GOOD));
    await user.click(screen.getByRole('button', { name: 'Upload and import' }));
    expect(await screen.findByText('unknown column "x"')).toBeTruthy();
  });

  test('a good file is uploaded as text, then the job is followed to its counts', async () => {
    const upload = vi.spyOn(cairn.insights, 'importCsv').mockResolvedValue({ id: 'imp-1', job_id: 'j', state: 'queued', bytes: GOOD.length } as never);
    vi.spyOn(cairn, 'get').mockResolvedValue({
      id: 'imp-1', job_id: 'j', state: 'done', bytes: GOOD.length, records_read: 1, rows_done: 1, rows_failed: 0,
      created_at: 1, finished_at: 2,
    });
    const user = userEvent.setup({ applyAccept: false });
    renderPage();
    await user.upload(screen.getByLabelText('CSV file'), csv(GOOD));
    await user.click(screen.getByRole('button', { name: 'Upload and import' }));
    await waitFor(() => expect(upload).toHaveBeenCalledWith(GOOD, expect.objectContaining({ onUploadProgress: expect.any(Function) })));
    expect(await screen.findByText('Every row was imported.')).toBeTruthy();
  });

  test('the upload shows how much was sent', async () => {
    let finish: (v: unknown) => void = () => {};
    vi.spyOn(cairn.insights, 'importCsv').mockImplementation((_text, opts) => {
      opts?.onUploadProgress?.({ loaded: 20, total: GOOD.length });
      return new Promise((resolve) => { finish = resolve; }) as never;
    });
    vi.spyOn(cairn, 'get').mockResolvedValue({ id: 'imp-2', job_id: 'j', state: 'queued', bytes: GOOD.length,
      records_read: 0, rows_done: 0, rows_failed: 0, created_at: 1, finished_at: null });
    const user = userEvent.setup({ applyAccept: false });
    renderPage();
    await user.upload(screen.getByLabelText('CSV file'), csv(GOOD));
    await user.click(screen.getByRole('button', { name: 'Upload and import' }));
    const bar = await screen.findByRole('progressbar', { name: 'Uploading the file' });
    await waitFor(() => expect(bar.getAttribute('value')).toBe('20'));
    expect(bar.getAttribute('max')).toBe(String(GOOD.length));
    expect(screen.getByText(`Uploading data.csv: 20 of ${GOOD.length} bytes`)).toBeTruthy();
    finish({ id: 'imp-2', job_id: 'j', state: 'queued', bytes: GOOD.length });
    expect(await screen.findByText('Waiting for the import job to start…')).toBeTruthy();
  });
});
