// A modal dialog on the native <dialog>: showModal() makes the rest of the page inert (focus
// stays inside), Esc closes it (unless `dismissible` is false), and focus goes back to where
// it was when it closes.
import { useEffect, useId, useRef, type ReactNode } from 'react';

export interface DialogProps {
  open: boolean;
  title: ReactNode;
  /** Called when the user dismisses it (Esc). */
  onClose: () => void;
  /** false: Esc does nothing (a step that must be finished). */
  dismissible?: boolean;
  children: ReactNode;
}

export function Dialog({ open, title, onClose, dismissible = true, children }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;

  useEffect(() => {
    const d = ref.current;
    if (!d) return undefined;
    const before = document.activeElement as HTMLElement | null;
    if (open && !d.open) {
      if (typeof d.showModal === 'function') d.showModal();
      else d.setAttribute('open', ''); // jsdom
    }
    if (!open && d.open) {
      if (typeof d.close === 'function') d.close();
      else d.removeAttribute('open');
    }
    return open ? () => { if (before?.isConnected) before.focus(); } : undefined;
  }, [open]);

  useEffect(() => {
    const d = ref.current;
    if (!d) return undefined;
    const cancel = (e: Event) => {
      e.preventDefault();
      if (dismissible) onCloseRef.current();
    };
    d.addEventListener('cancel', cancel);
    return () => d.removeEventListener('cancel', cancel);
  }, [dismissible]);

  return (
    <dialog ref={ref} className="dialog" aria-labelledby={titleId}>
      {open && (
        <div className="dialog-body">
          <h2 id={titleId} className="dialog-title">{title}</h2>
          {children}
        </div>
      )}
    </dialog>
  );
}
