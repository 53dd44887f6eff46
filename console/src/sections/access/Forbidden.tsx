// A page whose API answered 403 (the role changed since sign-in, or a policy such as the MFA
// requirement applies): the shell's "Not allowed" page, as for a route the role does not open,
// with the API's own reason under it.
import { Forbidden } from '../../app/NotFound';
import { isProblem, problemMessage } from '../../lib/problem';

/** The 403 page when `error` is a 403 problem, else null. */
export function forbiddenPage(error: unknown, permission?: string) {
  if (!isProblem(error, 403)) return null;
  return (
    <>
      <Forbidden permission={permission} />
      <p className="muted">The server said: {problemMessage(error)}</p>
    </>
  );
}
