// Forms: react-hook-form with a zod schema, and the API's field errors put on the fields.
// zod runs without generated code (jitless): the console's CSP forbids eval.
import { config } from 'zod/v4/core';
import { zodResolver } from '@hookform/resolvers/zod';
import { useForm, type FieldValues, type Path, type UseFormProps, type UseFormReturn } from 'react-hook-form';
import type { z } from 'zod';
import { CairnError } from '@cairn/sdk';
import { problemMessage } from './problem';

config({ jitless: true });

/** useForm with `schema` as its resolver; validation on submit, then on change. */
export function useZodForm<S extends z.ZodType<FieldValues, FieldValues>>(
  schema: S,
  options: Omit<UseFormProps<z.input<S>, unknown, z.output<S>>, 'resolver'> = {},
): UseFormReturn<z.input<S>, unknown, z.output<S>> {
  return useForm<z.input<S>, unknown, z.output<S>>({
    mode: 'onSubmit',
    reValidateMode: 'onChange',
    ...options,
    resolver: zodResolver(schema as never) as never,
  });
}

// "items[2].title" -> "items.2.title" (react-hook-form's paths)
function fieldPath(field: string): string {
  return field.replace(/\[(\d+)\]/g, '.$1').replace(/^\./, '');
}

/**
 * Puts an API error on a form: each entry of a problem's `errors` ({field, message}) on the
 * field of that name (`fieldMap` renames API fields to form fields), and whatever is not a
 * field of the form (or the problem's detail when it names no field) on `root.server`
 * (show it with <FormError form={form} />). Returns true when some field got an error.
 */
export function applyProblem<T extends FieldValues>(
  form: Pick<UseFormReturn<T>, 'setError' | 'getValues'>,
  error: unknown,
  fieldMap: Record<string, string> = {},
): boolean {
  const known = new Set(Object.keys(flatten(form.getValues())));
  let onField = false;
  const rest: string[] = [];
  const errors = error instanceof CairnError ? error.errors : [];
  for (const e of errors) {
    const name = fieldMap[e.field] ?? fieldPath(e.field);
    if (known.has(name)) {
      form.setError(name as Path<T>, { type: 'server', message: e.message }, { shouldFocus: !onField });
      onField = true;
    } else {
      rest.push(e.field ? `${e.field}: ${e.message}` : e.message);
    }
  }
  if (!onField || rest.length) {
    const message = rest.length && onField ? rest.join('; ') : problemMessage(error);
    form.setError('root.server' as Path<T>, { type: 'server', message });
  }
  return onField;
}

// Every path of a values object: {a: {b: 1}, c: [x]} -> {"a", "a.b", "c", "c.0"}.
function flatten(values: unknown, prefix = '', out: Record<string, true> = {}): Record<string, true> {
  if (values && typeof values === 'object') {
    for (const [k, v] of Object.entries(values)) {
      const p = prefix ? `${prefix}.${k}` : k;
      out[p] = true;
      flatten(v, p, out);
    }
  }
  return out;
}
