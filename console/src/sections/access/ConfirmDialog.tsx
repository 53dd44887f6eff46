// "Are you sure?" for a change that cannot be undone (remove, revoke, delete). The action
// runs from the dialog; when the API refuses it, its detail is shown there and the dialog
// stays open.
import { useState, type ReactNode } from 'react';
import { Button, Dialog, ErrorNotice } from '../../ui';

export interface ConfirmDialogProps {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}

export function ConfirmDialog({ open, title, children, confirmLabel, onConfirm, onClose }: ConfirmDialogProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const close = () => {
    setError(null);
    onClose();
  };
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      close();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={open} title={title} onClose={close}>
      {children}
      {error != null && <ErrorNotice error={error} title="Not done" />}
      <div className="form-actions">
        <Button variant="danger" busy={busy} onClick={() => void confirm()}>{confirmLabel}</Button>
        <Button onClick={close}>Cancel</Button>
      </div>
    </Dialog>
  );
}
