import { render, screen, act } from '@testing-library/react';
import { z } from 'zod';
import { CairnError } from '@cairn/sdk';
import { applyProblem, useZodForm } from './forms';
import { Field, FormError, TextInput } from '../ui';

const schema = z.object({
  email: z.string(),
  items: z.array(z.object({ title: z.string() })),
});

type Form = ReturnType<typeof useZodForm<typeof schema>>;
let form!: Form;

function TestForm() {
  form = useZodForm(schema, { defaultValues: { email: '', items: [{ title: '' }] } });
  const { errors } = form.formState;
  return (
    <form>
      <FormError form={form} />
      <Field label="E-mail" error={errors.email?.message}><TextInput {...form.register('email')} /></Field>
      <Field label="Title" error={errors.items?.[0]?.title?.message}><TextInput {...form.register('items.0.title')} /></Field>
    </form>
  );
}

const validation = (errors: { field: string; message: string }[]) => new CairnError({
  status: 422, type: 'urn:cairn:problem:validation-failed', title: 'Unprocessable Content',
  detail: 'the body does not match the schema', errors,
});

describe('applyProblem', () => {
  test("puts each of the problem's errors on its field, with the field described by it", () => {
    render(<TestForm />);
    let onField = false;
    act(() => { onField = applyProblem(form, validation([
      { field: 'email', message: 'is already a member' },
      { field: 'items[0].title', message: 'must not be empty' },
    ])); });
    expect(onField).toBe(true);
    const email = screen.getByLabelText('E-mail');
    expect(email.getAttribute('aria-invalid')).toBe('true');
    expect(document.getElementById(email.getAttribute('aria-describedby')!)?.textContent).toBe('is already a member');
    expect(screen.getByLabelText('Title').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText('must not be empty')).toBeTruthy();
    expect(screen.queryByRole('alert')).toBeNull(); // everything found its field
  });

  test('errors naming no field of the form go to the form-wide notice', () => {
    render(<TestForm />);
    act(() => { applyProblem(form, validation([
      { field: 'email', message: 'is not an e-mail address' },
      { field: 'tenant_id', message: 'unknown' },
    ])); });
    expect(screen.getByText('is not an e-mail address')).toBeTruthy();
    expect(screen.getByRole('alert').textContent).toContain('tenant_id: unknown');
  });

  test("a problem without field errors shows its detail; fieldMap renames the API's fields", () => {
    render(<TestForm />);
    act(() => { applyProblem(form, new CairnError({ status: 409, detail: 'a member with this e-mail exists' })); });
    expect(screen.getByRole('alert').textContent).toBe('A member with this e-mail exists.');
    act(() => { form.clearErrors(); applyProblem(form, validation([{ field: 'address', message: 'bad' }]), { address: 'email' }); });
    expect(screen.getByLabelText('E-mail').getAttribute('aria-invalid')).toBe('true');
  });
});
