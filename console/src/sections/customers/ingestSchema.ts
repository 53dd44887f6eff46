// What the client can check of one interaction before sending it (docs/insights.md
// "Interactions"); the server checks the rest (a time too far in the future by its clock,
// control characters, its own limits) and its errors land on the same fields.
import { z } from 'zod';
import { CHANNELS } from './Sentiment';

export const ingestSchema = z.object({
  customer_id: z.string().trim().min(1, 'Enter the customer’s id').pipe(z.guid('The customer id is a UUID, e.g. 0190a000-0000-7000-8000-000000000001')),
  timestamp: z.string().min(1, 'Enter when it happened')
    .refine((v) => !v || !Number.isNaN(new Date(v).getTime()), 'Enter a date and time'),
  channel: z.enum(CHANNELS, 'Choose a channel'),
  event_type: z.string().trim().min(1, 'Enter the kind of event, e.g. support_ticket').max(100, 'At most 100 characters'),
  content: z.string().max(10_000, 'At most 10 000 characters'),
  metadata: z.string().refine((v) => {
    if (!v.trim()) return true;
    try {
      const o = JSON.parse(v);
      return o !== null && typeof o === 'object' && !Array.isArray(o);
    } catch {
      return false;
    }
  }, 'Enter a JSON object, e.g. {"plan": "pro"}, or leave it empty')
    .refine((v) => new TextEncoder().encode(v).length <= 16_384, 'At most 16 KiB'),
  idempotency_key: z.string().max(200, 'At most 200 characters'),
}).superRefine((v, ctx) => {
  if ((v.channel === 'email' || v.channel === 'chat') && !v.content.trim()) {
    ctx.addIssue({ code: 'custom', path: ['content'], message: 'E-mail and chat interactions need their text' });
  }
});

export type IngestValues = z.input<typeof ingestSchema>;

/** The API's body for the form's values: the local date and time as Unix ms, empty optionals left out. */
export function ingestBody(v: z.output<typeof ingestSchema>) {
  return {
    customer_id: v.customer_id,
    timestamp: new Date(v.timestamp).getTime(),
    channel: v.channel,
    event_type: v.event_type,
    ...(v.content ? { content: v.content } : {}),
    ...(v.metadata.trim() ? { metadata: JSON.parse(v.metadata) } : {}),
    ...(v.idempotency_key ? { idempotency_key: v.idempotency_key } : {}),
  };
}

/** A datetime-local value ("2026-12-07T14:03") for a Unix-ms instant, in the browser's zone. */
export function localDateTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A random (version 4) UUID for a new customer. */
export function newCustomerId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
