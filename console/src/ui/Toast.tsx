// Short notices after an action ("Key revoked"). useToast() from any component under
// <ToastProvider>; they are announced (aria-live) and go away by themselves or on Dismiss.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';

export type ToastTone = 'success' | 'error' | 'info';
interface ToastItem { id: number; message: string; tone: ToastTone }
type ToastFn = (message: string, tone?: ToastTone) => void;

const ToastContext = createContext<ToastFn>(() => {});
let nextId = 1;

export function ToastProvider({ children, timeoutMs = 6000 }: { children: ReactNode; timeoutMs?: number }) {
  const [items, setItems] = useState<ToastItem[]>([]);
  const dismiss = useCallback((id: number) => setItems((xs) => xs.filter((x) => x.id !== id)), []);
  const toast = useCallback<ToastFn>((message, tone = 'success') => {
    const id = nextId++;
    setItems((xs) => [...xs.slice(-3), { id, message, tone }]);
    setTimeout(() => dismiss(id), timeoutMs);
  }, [dismiss, timeoutMs]);
  const value = useMemo(() => toast, [toast]);
  return (
    <ToastContext.Provider value={value}>
      {children}
      <div className="toasts" role="status" aria-live="polite">
        {items.map((t) => (
          <div key={t.id} className={`toast toast-${t.tone}`}>
            <p className="toast-message">{t.message}</p>
            <button type="button" className="btn btn-ghost btn-small" onClick={() => dismiss(t.id)}>Dismiss</button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

/** toast(message, tone = 'success') */
export function useToast(): ToastFn {
  return useContext(ToastContext);
}
