import { forwardRef, type ButtonHTMLAttributes } from 'react';

export interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  variant?: 'primary' | 'secondary' | 'danger' | 'ghost' | 'link';
  size?: 'normal' | 'small';
  /** Shows a spinner and disables the button (a submit under way). */
  busy?: boolean;
}

/** A button; type="button" unless given (submit only when asked). */
export const Button = forwardRef<HTMLButtonElement, ButtonProps>(function Button(
  { variant = 'secondary', size = 'normal', busy = false, className, type = 'button', disabled, children, ...rest }, ref) {
  const classes = ['btn', variant !== 'secondary' && `btn-${variant}`, size === 'small' && 'btn-small',
    busy && 'btn-busy', className].filter(Boolean).join(' ');
  return (
    <button ref={ref} type={type} className={classes} disabled={disabled || busy} aria-busy={busy || undefined} {...rest}>
      {children}
    </button>
  );
});
