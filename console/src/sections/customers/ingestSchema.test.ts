import { ingestBody, ingestSchema, localDateTime } from './ingestSchema';

const good = {
  customer_id: '0190a000-0000-7000-8000-000000000001', timestamp: '2026-11-22T10:00', channel: 'chat',
  event_type: 'message', content: 'Lovely!', metadata: '', idempotency_key: '',
};
const messages = (v: object) => ingestSchema.safeParse(v).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];

describe('the ingest form schema', () => {
  test('what the client can check is reported per field', () => {
    expect(messages(good)).toEqual([]);
    expect(messages({ ...good, customer_id: 'cust-1' })).toEqual(['customer_id: The customer id is a UUID, e.g. 0190a000-0000-7000-8000-000000000001']);
    expect(messages({ ...good, channel: 'fax' })).toEqual(['channel: Choose a channel']);
    expect(messages({ ...good, event_type: '  ' })).toEqual(['event_type: Enter the kind of event, e.g. support_ticket']);
    expect(messages({ ...good, content: ' ' })).toEqual(['content: E-mail and chat interactions need their text']);
    expect(messages({ ...good, channel: 'web', content: '' })).toEqual([]);
    expect(messages({ ...good, metadata: '[1]' })).toEqual(['metadata: Enter a JSON object, e.g. {"plan": "pro"}, or leave it empty']);
    expect(messages({ ...good, timestamp: '' })).toEqual(['timestamp: Enter when it happened']);
  });

  test('the body: local time as Unix ms, metadata parsed, empty optionals left out', () => {
    const v = ingestSchema.parse({ ...good, metadata: '{"plan":"pro"}' });
    expect(ingestBody(v)).toEqual({
      customer_id: good.customer_id, timestamp: new Date('2026-11-22T10:00').getTime(), channel: 'chat',
      event_type: 'message', content: 'Lovely!', metadata: { plan: 'pro' },
    });
    expect(localDateTime(new Date('2026-11-22T10:05').getTime())).toBe('2026-11-22T10:05');
  });
});
