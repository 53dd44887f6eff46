// Type-checked (tsc --strict) by tests/e2e/typed_client.test.mjs: the SDK's declared types
// (sdk/js/index.d.ts) are those of the generated sdk/js/api.d.ts, fully typed.
import type { CairnClient, Interaction, Note, Problem, Sentiment } from '../../../sdk/js/index.js';

declare const cairn: CairnClient;

export async function readEverything(): Promise<number> {
  const note: Note = await cairn.notes.create({ title: 'typed' });
  const created: number = note.created_at;
  const words: number = note.words;
  const page = await cairn.notes.list({ limit: 5 });
  const next: string | null = page.next_cursor;
  const list = await cairn.insights.list({ limit: 1 });
  const first: Interaction = list.items[0];
  const at: number = first.timestamp;
  const processed: number | null = first.processed_at;
  const score: Sentiment | null = first.sentiment;
  const ingested = await cairn.insights.ingest({
    customer_id: '6f1c2f3e-2b1a-4c5d-8e9f-0a1b2c3d4e5f', timestamp: '2026-01-01T00:00:00Z',
    channel: 'chat', event_type: 'message',
  });
  const duplicate: boolean = ingested.duplicate;
  const trends = await cairn.insights.trends({ group_by: 'day' });
  const start: number = trends.buckets[0].start;
  const metrics = await cairn.insights.metrics();
  const from: number = metrics.from;
  const profile = await cairn.insights.customer('6f1c2f3e-2b1a-4c5d-8e9f-0a1b2c3d4e5f');
  const seen: number | null = profile.last_seen;
  const hits = await cairn.insights.search('delivery');
  const snippet: string = hits.items[0].snippet[0].text;
  const patterns = await cairn.insights.patterns('6f1c2f3e-2b1a-4c5d-8e9f-0a1b2c3d4e5f');
  const detected: number = patterns.items[0].detected_at;
  const problem: Problem = { type: 'urn:cairn:problem:not-found', title: 'Not Found', status: 404 };
  return [created, words, at, processed ?? 0, score?.compound ?? 0, start, from, seen ?? 0, detected,
    problem.status].reduce((a, b) => a + b, 0) + (next ?? '').length + snippet.length + Number(duplicate);
}
