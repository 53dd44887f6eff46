import { isProblem, problemMessage } from '../lib/problem';
import { Button } from './Button';

/** An error as the user should read it: the problem's detail, and a retry when given. */
export function ErrorNotice({ error, title, onRetry }: { error: unknown; title?: string; onRetry?: () => void }) {
  const heading = title ?? (isProblem(error, 403) ? 'Not allowed' : isProblem(error, 404) ? 'Not found' : 'Something went wrong');
  const requestId = isProblem(error) ? error.request_id : null;
  return (
    <div className="notice notice-error" role="alert">
      <p><strong>{heading}</strong></p>
      <p>{problemMessage(error)}</p>
      {requestId && <p className="muted">Request id: <code>{requestId}</code></p>}
      {onRetry && <Button size="small" onClick={onRetry}>Try again</Button>}
    </div>
  );
}
