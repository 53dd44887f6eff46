// Data entry: one interaction through a form. The client checks what it can (ingestSchema);
// the API's problem+json `errors` land on the same fields; once stored, the interaction is
// shown and its sentiment appears when the analysis job has scored it.
import { useEffect, useRef, useState } from 'react';
import { Link, useSearchParams } from 'wouter';
import type { Interaction } from '@cairn/sdk';
import { API, cairn } from '../../lib/sdk';
import { useApiMutation, useApiQuery } from '../../lib/query';
import { useLiveInvalidate } from '../../lib/realtime';
import { applyProblem, useZodForm } from '../../lib/forms';
import { formatDateTime } from '../../lib/format';
import { Button, Field, FormError, PageHeader, Select, TextArea, TextInput } from '../../ui';
import { CHANNELS, SentimentBadge, channelLabel } from './Sentiment';
import { ingestBody, ingestSchema, localDateTime, newCustomerId } from './ingestSchema';
import './customers.css';

interface Created {
  id: string;
  customer_id: string;
  timestamp: number;
  channel: string;
  duplicate: boolean;
}

export default function IngestPage() {
  const [params] = useSearchParams();
  const [created, setCreated] = useState<Created | null>(null);
  const form = useZodForm(ingestSchema, {
    defaultValues: {
      customer_id: params.get('customer') ?? '', timestamp: localDateTime(Date.now()), channel: 'chat',
      event_type: 'message', content: '', metadata: '', idempotency_key: '',
    },
  });
  const { register, handleSubmit, setValue, reset, getValues, formState: { errors } } = form;
  const ingest = useApiMutation((body: ReturnType<typeof ingestBody>) => cairn.insights.ingest(body as never) as Promise<Created>,
    { invalidate: [['customers']] });
  const submit = handleSubmit(async (v) => {
    setCreated(null);
    try {
      setCreated(await ingest.mutateAsync(ingestBody(v)));
    } catch (e) {
      applyProblem(form, e);
    }
  });
  const another = () => {
    const { customer_id, channel, event_type } = getValues();
    reset({ customer_id, channel, event_type, timestamp: localDateTime(Date.now()), content: '', metadata: '', idempotency_key: '' });
    setCreated(null);
  };
  return (
    <>
      <PageHeader title="Add an interaction">
        <Link className="btn" href="/customers/import">Import a CSV file instead</Link>
      </PageHeader>
      <div className="stack">
        {created && <CreatedCard created={created} onAnother={another} />}
        <form className="card ingest-form" onSubmit={submit} noValidate aria-label="Add an interaction">
          <FormError form={form} />
          <Field label="Customer id" hint="The customer's UUID in your systems; a new one creates the customer."
            error={errors.customer_id?.message}>
            <TextInput autoComplete="off" spellCheck={false} {...register('customer_id')} />
          </Field>
          <div className="id-actions">
            <Button size="small" onClick={() => setValue('customer_id', newCustomerId(), { shouldValidate: true })}>New customer id</Button>
          </div>
          <div className="form-row">
            <Field label="When" hint="Your local time; at most a few minutes ahead." error={errors.timestamp?.message}>
              <TextInput type="datetime-local" {...register('timestamp')} />
            </Field>
            <Field label="Channel" error={errors.channel?.message}>
              <Select {...register('channel')} options={CHANNELS.map((c) => ({ value: c, label: channelLabel(c) }))} />
            </Field>
            <Field label="Event" hint="e.g. message, support_ticket, page_view" error={errors.event_type?.message}>
              <TextInput autoComplete="off" {...register('event_type')} />
            </Field>
          </div>
          <Field label="Content" hint="The text; needed for e-mail and chat. Its sentiment is scored after saving."
            error={errors.content?.message}>
            <TextArea rows={4} {...register('content')} />
          </Field>
          <details>
            <summary>More: metadata, idempotency key</summary>
            <Field label="Metadata (JSON object)" hint='e.g. {"user_agent": "…", "ip": "81.2.69.160"}' error={errors.metadata?.message}>
              <TextArea rows={3} spellCheck={false} {...register('metadata')} />
            </Field>
            <Field label="Idempotency key" hint="Sending the same key again stores nothing new." error={errors.idempotency_key?.message}>
              <TextInput autoComplete="off" {...register('idempotency_key')} />
            </Field>
          </details>
          <div className="form-actions">
            <Button type="submit" variant="primary" busy={ingest.isPending}>Save interaction</Button>
          </div>
        </form>
      </div>
    </>
  );
}

// The stored interaction, read back from the customer's list until the analysis has scored it.
function CreatedCard({ created, onAnother }: { created: Created; onAnother: () => void }) {
  const key = ['customers', 'created', created.id];
  const found = useApiQuery<{ items: Interaction[] }>(key, `${API}/insights`,
    { customer_id: created.customer_id, from: created.timestamp, to: created.timestamp + 1, limit: 100 },
    { refetchInterval: (q) => (q.state.data?.items.find((i) => i.id === created.id)?.processed_at != null ? false : 1000) });
  useLiveInvalidate('insights', [key]);
  const it = found.data?.items.find((i) => i.id === created.id);
  const scored = it?.processed_at != null;
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <section className="card stack created-interaction" aria-labelledby="created-title">
      <h2 id="created-title" tabIndex={-1} ref={heading}>{created.duplicate ? 'Already stored' : 'Interaction saved'}</h2>
      {created.duplicate && <p>An interaction with this idempotency key was stored before; nothing new was added.</p>}
      <dl className="facts">
        <dt>Id</dt><dd className="id-text">{created.id}</dd>
        <dt>Customer</dt>
        <dd><Link href={`/customers/${encodeURIComponent(created.customer_id)}`}><span className="id-text">{created.customer_id}</span></Link></dd>
        <dt>When</dt><dd>{formatDateTime(created.timestamp)}</dd>
        <dt>Channel</dt><dd>{channelLabel(created.channel)}</dd>
        <dt>Sentiment</dt>
        <dd aria-live="polite">{scored ? <SentimentBadge sentiment={it?.sentiment} /> : <span className="muted">Scoring…</span>}</dd>
      </dl>
      <div className="inline-actions">
        <Button variant="primary" onClick={onAnother}>Add another</Button>
        <Link href={`/customers/${encodeURIComponent(created.customer_id)}`}>Open the customer</Link>
      </div>
    </section>
  );
}
