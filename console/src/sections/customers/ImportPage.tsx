// CSV upload: the file is checked (csvImport.ts), read and sent with progress (POST
// /interactions/import answers 202 with the import's id), then the import job is followed
// (GET /interactions/imports/{id}) to its final counts; failed rows are in an error report
// fetched through the SDK and saved from a Blob URL.
import { useEffect, useRef, useState } from 'react';
import { Link } from 'wouter';
import type { components } from '@cairn/sdk';
import { API, cairn } from '../../lib/sdk';
import { useApiQuery, useInvalidate } from '../../lib/query';
import { applyProblem, useZodForm } from '../../lib/forms';
import { formatCompact, formatDateTime, formatNumber, formatPercent } from '../../lib/format';
import { problemMessage } from '../../lib/problem';
import { Button, ErrorNotice, Field, FormError, PageHeader, TextInput } from '../../ui';
import { OPTIONAL_COLUMNS, REQUIRED_COLUMNS, csvFormSchema, estimateRecords, headerProblem, reportName } from './csvImport';
import './customers.css';

type Import = components['schemas']['Import'];
type Queued = components['schemas']['ImportQueued'];

type Phase =
  | { step: 'idle' }
  | { step: 'reading'; name: string; loaded: number; total: number }
  | { step: 'sending'; name: string; bytes: number; sent: number | null }
  | { step: 'importing'; name: string; queued: Queued; estimate: number };

function readFile(file: File, onProgress: (loaded: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onprogress = (e) => onProgress(e.loaded);
    r.onload = () => resolve(String(r.result ?? ''));
    r.onerror = () => reject(r.error ?? new Error('the file could not be read'));
    r.readAsText(file);
  });
}

export default function ImportPage() {
  const [phase, setPhase] = useState<Phase>({ step: 'idle' });
  const form = useZodForm(csvFormSchema, { defaultValues: { file: null } });
  const { register, handleSubmit, setError, reset, formState: { errors } } = form;
  const busy = phase.step === 'reading' || phase.step === 'sending';
  const submit = handleSubmit(async ({ file }) => {
    const f = file![0];
    try {
      setPhase({ step: 'reading', name: f.name, loaded: 0, total: f.size });
      const text = await readFile(f, (loaded) => setPhase({ step: 'reading', name: f.name, loaded, total: f.size }));
      const bad = headerProblem(text);
      if (bad) {
        setPhase({ step: 'idle' });
        setError('file', { type: 'header', message: bad }, { shouldFocus: true });
        return;
      }
      const bytes = new TextEncoder().encode(text).length;
      setPhase({ step: 'sending', name: f.name, bytes, sent: null });
      const queued = await cairn.insights.importCsv(text, {
        onUploadProgress: ({ loaded }) => setPhase({ step: 'sending', name: f.name, bytes, sent: Math.min(loaded, bytes) }),
      }) as Queued;
      setPhase({ step: 'importing', name: f.name, queued, estimate: estimateRecords(text) });
    } catch (e) {
      setPhase({ step: 'idle' });
      applyProblem(form, e, { header: 'file' });
    }
  });
  const again = () => {
    reset({ file: null });
    setPhase({ step: 'idle' });
  };
  return (
    <>
      <PageHeader title="Import interactions from CSV">
        <Link className="btn" href="/customers/ingest">Add one interaction</Link>
      </PageHeader>
      <div className="stack">
        {phase.step === 'importing'
          ? <ImportProgress name={phase.name} queued={phase.queued} estimate={phase.estimate} onAgain={again} />
          : (
            <form className="card stack" onSubmit={submit} noValidate aria-label="Import a CSV file">
              <FormError form={form} />
              <Field label="CSV file" error={errors.file?.message}
                hint="UTF-8, comma-separated, the first row naming the columns; up to the server's size limit (1 MB unless configured).">
                <TextInput type="file" accept=".csv,text/csv" disabled={busy} {...register('file')} />
              </Field>
              <Columns />
              {phase.step === 'reading' && (
                <div className="progress-block" role="status">
                  <span>Reading {phase.name}: {formatPercent(phase.total ? phase.loaded / phase.total : 1, 0)}</span>
                  <progress aria-label="Reading the file" max={phase.total || 1} value={phase.loaded} />
                </div>
              )}
              {phase.step === 'sending' && (
                <div className="progress-block" role="status">
                  <span>
                    Uploading {phase.name}: {phase.sent == null ? `${formatCompact(phase.bytes)} bytes…`
                      : `${formatCompact(phase.sent)} of ${formatCompact(phase.bytes)} bytes`}
                  </span>
                  {phase.sent == null
                    ? <progress aria-label="Uploading the file" />
                    : <progress aria-label="Uploading the file" max={phase.bytes || 1} value={phase.sent} />}
                </div>
              )}
              <div className="form-actions">
                <Button type="submit" variant="primary" busy={busy}>Upload and import</Button>
              </div>
            </form>
          )}
      </div>
    </>
  );
}

function Columns() {
  return (
    <details open>
      <summary>Expected columns</summary>
      <div className="stack">
        <p>The first row names the columns, in any order. Required:</p>
        <ul className="columns-list">
          {REQUIRED_COLUMNS.map((c) => <li key={c}><code>{c}</code> — {COLUMN_HELP[c]}</li>)}
        </ul>
        <p>Optional:</p>
        <ul className="columns-list">
          {OPTIONAL_COLUMNS.map((c) => <li key={c}><code>{c}</code> — {COLUMN_HELP[c]}</li>)}
        </ul>
        <p>Any other column name is refused. Rows that fail are skipped and listed in an error report; the others are imported.</p>
        <pre className="csv-example" tabIndex={0} aria-label="Example file">{EXAMPLE}</pre>
      </div>
    </details>
  );
}

const COLUMN_HELP: Record<string, string> = {
  customer_id: 'the customer’s UUID',
  timestamp: 'Unix milliseconds or RFC 3339 text (2026-11-22T10:00:00Z)',
  channel: 'web, mobile, email, chat or phone',
  event_type: 'what happened (message, support_ticket, …)',
  content: 'the text; needed for email and chat',
  metadata: 'a JSON object as text',
  idempotency_key: 'rows with a key already stored are skipped',
};

const EXAMPLE = `customer_id,timestamp,channel,event_type,content
0190a000-0000-7000-8000-000000000001,2026-11-22T10:00:00Z,chat,message,"The courier was lovely!"`;

const FINAL = new Set(['done', 'failed']);

function ImportProgress({ name, queued, estimate, onAgain }: { name: string; queued: Queued; estimate: number; onAgain: () => void }) {
  const key = ['customers', 'import', queued.id];
  const invalidate = useInvalidate();
  const status = useApiQuery<Import>(key, `${API}/interactions/imports/${encodeURIComponent(queued.id)}`, undefined,
    { refetchInterval: (q) => (FINAL.has(q.state.data?.state ?? '') ? false : 500), staleTime: 0 });
  const s = status.data;
  const finished = s != null && FINAL.has(s.state);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  useEffect(() => {
    if (finished) void invalidate(['customers', 'list'], ['customers', 'search']);
  }, [finished, invalidate]);
  const handled = s ? s.rows_done + s.rows_failed : 0;
  const total = Math.max(estimate, s?.records_read ?? 0, handled);
  return (
    <section className="card stack" aria-labelledby="import-title">
      <h2 id="import-title" tabIndex={-1} ref={heading}>Importing {name}</h2>
      <p className="muted">Uploaded {formatNumber(queued.bytes)} bytes. Import {queued.id}.</p>
      {status.error && !s ? <ErrorNotice error={status.error} onRetry={() => void status.refetch()} /> : (
        <>
          <div className="progress-block">
            <span role="status">{stateText(s?.state ?? queued.state, handled, total)}</span>
            <progress aria-label="Rows imported" max={finished ? 1 : total || 1} value={finished ? 1 : Math.min(handled, total)} />
          </div>
          <dl className="import-counts" aria-label="Counts">
            <div><dt>Rows read</dt><dd>{formatNumber(s?.records_read ?? 0)}</dd></div>
            <div><dt>Imported</dt><dd>{formatNumber(s?.rows_done ?? 0)}</dd></div>
            <div><dt>Failed</dt><dd>{formatNumber(s?.rows_failed ?? 0)}</dd></div>
          </dl>
          {finished && s.finished_at != null && <p className="muted">Finished {formatDateTime(s.finished_at)}.</p>}
          {finished && s.rows_failed > 0 && <ErrorReport importId={queued.id} failed={s.rows_failed} />}
          {finished && s.rows_failed === 0 && s.state === 'done' && <p>Every row was imported.</p>}
        </>
      )}
      <div className="inline-actions">
        <Button onClick={onAgain} variant={finished ? 'primary' : 'secondary'}>Import another file</Button>
        {finished && <Link href="/customers">See the customers</Link>}
      </div>
    </section>
  );
}

function stateText(state: string, handled: number, total: number): string {
  if (state === 'queued') return 'Waiting for the import job to start…';
  if (state === 'running') return `Importing: ${formatNumber(handled)} of about ${formatNumber(total)} rows.`;
  if (state === 'done') return `Import finished: ${formatNumber(handled)} rows handled.`;
  if (state === 'failed') return 'The import job failed.';
  return state;
}

function ErrorReport({ importId, failed }: { importId: string; failed: number }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const download = async () => {
    setBusy(true);
    setError(null);
    try {
      const text = await cairn.get<string>(`${API}/interactions/imports/${encodeURIComponent(importId)}/errors`,
        { headers: { accept: 'text/csv, application/problem+json' } });
      const url = URL.createObjectURL(new Blob([text ?? ''], { type: 'text/csv;charset=utf-8' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = reportName(importId);
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="notice notice-warning stack">
      <p>{formatNumber(failed)} {failed === 1 ? 'row was' : 'rows were'} not imported. The report lists each one with its line and the reason.</p>
      <div><Button onClick={() => void download()} busy={busy}>Download the error report</Button></div>
      {error != null && <p role="alert">{problemMessage(error)}</p>}
    </div>
  );
}
