// A page whose API answered 403 although the role opens it (a policy such as the MFA
// requirement applies, or the role changed since sign-in): "Not allowed" like the shell's
// page, but with the API's own reason, which says what to do.
import { isProblem, problemMessage } from '../../lib/problem';
import { PageHeader } from '../../ui';

/** The 403 page when `error` is a 403 problem, else null. */
export function forbiddenPage(error: unknown) {
  if (!isProblem(error, 403)) return null;
  return (
    <>
      <PageHeader title="Not allowed" />
      <div className="notice notice-warning" role="alert">
        <p>{problemMessage(error)}</p>
        <p>If you should have access, ask an owner or admin of your organisation.</p>
      </div>
    </>
  );
}
