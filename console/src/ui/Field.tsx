// Labelled form controls. Field gives a control its label, hint and error, wired with ids
// and aria-describedby; TextInput/Select/TextArea are the controls (forwarding refs, so
// react-hook-form's register() works on them).
import { cloneElement, forwardRef, isValidElement, useId, type InputHTMLAttributes, type ReactElement,
  type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from 'react';
import type { FieldValues, UseFormReturn } from 'react-hook-form';

export interface FieldProps {
  label: ReactNode;
  /** The error message under the control (aria-invalid is set when present). */
  error?: string;
  hint?: ReactNode;
  /** One control element; it receives id, aria-describedby and aria-invalid. */
  children: ReactElement<Record<string, unknown>>;
  className?: string;
}

export function Field({ label, error, hint, children, className }: FieldProps) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(' ') || undefined;
  const control = isValidElement(children)
    ? cloneElement(children, { id, 'aria-describedby': describedBy, 'aria-invalid': error ? true : undefined })
    : children;
  return (
    <div className={['field', className].filter(Boolean).join(' ')}>
      <label className="field-label" htmlFor={id}>{label}</label>
      {control}
      {hint && <span id={hintId} className="field-hint">{hint}</span>}
      {error && <span id={errorId} className="field-error">{error}</span>}
    </div>
  );
}

export const TextInput = forwardRef<HTMLInputElement, InputHTMLAttributes<HTMLInputElement>>(
  function TextInput({ className, type = 'text', ...rest }, ref) {
    return <input ref={ref} type={type} className={['input', className].filter(Boolean).join(' ')} {...rest} />;
  });

export const TextArea = forwardRef<HTMLTextAreaElement, TextareaHTMLAttributes<HTMLTextAreaElement>>(
  function TextArea({ className, ...rest }, ref) {
    return <textarea ref={ref} className={['textarea', className].filter(Boolean).join(' ')} {...rest} />;
  });

export interface SelectProps extends SelectHTMLAttributes<HTMLSelectElement> {
  options?: { value: string; label: string }[];
}

export const Select = forwardRef<HTMLSelectElement, SelectProps>(
  function Select({ className, options, children, ...rest }, ref) {
    return (
      <select ref={ref} className={['select', className].filter(Boolean).join(' ')} {...rest}>
        {options?.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
        {children}
      </select>
    );
  });

/** The form-wide error (lib/forms applyProblem's root.server), announced when it appears. */
export function FormError<T extends FieldValues>({ form }: { form: Pick<UseFormReturn<T>, 'formState'> }) {
  const root = form.formState.errors.root as Record<string, { message?: string }> | undefined;
  const message = root?.server?.message;
  if (!message) return null;
  return <div className="notice notice-error" role="alert"><p>{message}</p></div>;
}
