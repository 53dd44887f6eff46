// The CSV import's client-side checks (docs/insights.md "CSV"): a file is chosen, it looks
// like CSV, and its header row names the columns the server takes — checked before the
// upload so a wrong file fails in a second with the reason, not after a job ran.
import { z } from 'zod';

export const REQUIRED_COLUMNS = ['customer_id', 'timestamp', 'channel', 'event_type'] as const;
export const OPTIONAL_COLUMNS = ['content', 'metadata', 'idempotency_key'] as const;
const KNOWN = new Set<string>([...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS]);

/** The form: one file, named .csv (or typed text/csv), not empty. */
export const csvFormSchema = z.object({
  file: z.custom<FileList | File[] | null>()
    .refine((f) => f != null && f.length > 0, 'Choose a CSV file')
    .refine((f) => !f || f.length <= 1, 'Choose one file')
    .refine((f) => !f?.[0] || /\.csv$/i.test(f[0].name) || /^text\/(csv|plain)$/.test(f[0].type), 'The file must be a .csv file')
    .refine((f) => !f?.[0] || f[0].size > 0, 'The file is empty'),
});

// The fields of the first record (RFC 4180 quoting; a header may quote its names).
function firstRecord(text: string): string[] {
  const fields: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cur += '"'; i++; }
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { fields.push(cur); cur = ''; }
    else if (ch === '\n' || ch === '\r') break;
    else cur += ch;
  }
  fields.push(cur);
  return fields;
}

/** What is wrong with the file's header row, as a sentence, or null when the server will take it. */
export function headerProblem(text: string): string | null {
  const body = text.replace(/^\uFEFF/, '');
  if (!body.trim()) return 'The file is empty.';
  const names = firstRecord(body);
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const n of names) (seen.has(n) ? repeated : seen).add(n);
  const unknown = names.filter((n) => !KNOWN.has(n));
  const missing = REQUIRED_COLUMNS.filter((c) => !seen.has(c));
  const parts: string[] = [];
  if (missing.length) parts.push(`the first row must name the column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  if (unknown.length) parts.push(`unknown column${unknown.length > 1 ? 's' : ''}: ${unknown.map((u) => u || '(empty)').join(', ')}`);
  if (repeated.size) parts.push(`repeated: ${[...repeated].join(', ')}`);
  if (!parts.length) return null;
  const s = parts.join('; ');
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}.`;
}

/** About how many records follow the header (lines that are not empty; quoted line breaks
 *  make it an overestimate), to show the job's progress against. */
export function estimateRecords(text: string): number {
  let n = 0;
  for (const line of text.split(/\r?\n/)) if (line.trim()) n++;
  return Math.max(0, n - 1);
}

/** The file name of an import's error report. */
export function reportName(importId: string): string {
  return `import-${importId.slice(0, 8)}-errors.csv`;
}
