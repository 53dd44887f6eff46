import { z } from 'zod';
import type { Note } from '@cairn/sdk';
import { API, cairn } from '../../lib/sdk';
import { useApiMutation, useCursorQuery } from '../../lib/query';
import { useChannelLive, useLiveInvalidate } from '../../lib/realtime';
import { applyProblem, useZodForm } from '../../lib/forms';
import { formatDateTime } from '../../lib/format';
import { Button, DataTable, LiveBadge, EmptyState, Field, FormError, TextArea, TextInput, useToast, type ColumnDef } from '../../ui';

const NOTES = ['home', 'notes'];

const columns: ColumnDef<Note, any>[] = [
  { accessorKey: 'title', header: 'Title' },
  { accessorKey: 'body', header: 'Text', enableSorting: false },
  { accessorKey: 'created_at', header: 'Created', cell: (c) => formatDateTime(c.getValue<number>()) },
];

export function NotesCard({ canWrite }: { canWrite: boolean }) {
  const notes = useCursorQuery<Note>(NOTES, `${API}/notes`, {}, 5);
  useLiveInvalidate('notes', [NOTES]);
  const live = useChannelLive('notes');
  return (
    <section className="card stack" aria-labelledby="home-notes">
      <div className="card-header">
        <h2 id="home-notes">Latest notes</h2>
        <LiveBadge live={live} />
      </div>
      <DataTable caption="Latest notes" columns={columns} data={notes.items} loading={notes.isLoading}
        error={notes.error} onRetry={() => void notes.refetch()} pagination={notes.pager} getRowId={(n) => n.id}
        empty={<EmptyState title="No notes yet">{canWrite ? 'Write the first one below.' : 'Notes your team writes appear here.'}</EmptyState>} />
      {canWrite && <NoteForm />}
    </section>
  );
}

const noteSchema = z.object({
  title: z.string().trim().min(1, 'Give the note a title').max(200, 'At most 200 characters'),
  body: z.string(),
});

function NoteForm() {
  const toast = useToast();
  const form = useZodForm(noteSchema, { defaultValues: { title: '', body: '' } });
  const { register, handleSubmit, reset, formState: { errors } } = form;
  const create = useApiMutation((v: z.output<typeof noteSchema>) => cairn.notes.create(v), { invalidate: [NOTES] });
  const submit = handleSubmit(async (v) => {
    try {
      await create.mutateAsync(v);
      reset();
      toast('Note saved');
    } catch (e) {
      applyProblem(form, e);
    }
  });
  return (
    <form onSubmit={submit} noValidate aria-labelledby="home-note-form">
      <h3 id="home-note-form">Write a note</h3>
      <FormError form={form} />
      <Field label="Title" error={errors.title?.message}><TextInput {...register('title')} /></Field>
      <Field label="Text" error={errors.body?.message}><TextArea {...register('body')} /></Field>
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={create.isPending}>Save note</Button>
      </div>
    </form>
  );
}
