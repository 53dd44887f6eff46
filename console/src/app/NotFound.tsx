import { Link } from 'wouter';
import { PageHeader } from '../ui/PageHeader';

export function NotFound() {
  return (
    <>
      <PageHeader title="Page not found" />
      <p>There is no page at this address. <Link href="/">Go to the overview</Link>.</p>
    </>
  );
}

/** A page the user's role does not open (the API would answer 403). */
export function Forbidden({ permission }: { permission?: string }) {
  return (
    <>
      <PageHeader title="Not allowed" />
      <div className="notice notice-warning" role="alert">
        <p>Your role does not allow this page{permission ? <> (it needs <code>{permission}</code>)</> : null}. Ask an owner or admin of your organisation for access.</p>
      </div>
    </>
  );
}
