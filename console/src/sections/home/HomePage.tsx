// The overview: who is signed in where, the sections this user can open, and the latest
// notes — the pattern every section follows: a cursor-paginated query in a DataTable kept
// live by a realtime channel, and a form whose API errors land on its fields.
import { Link } from 'wouter';
import { useAccount } from '../../app/auth';
import { visibleSections } from '../../app/permissions';
import { sections } from '..';
import { PageHeader } from '../../ui';
import { NotesCard } from './NotesCard';

export default function HomePage() {
  const account = useAccount();
  const others = visibleSections(sections, account.can).filter((s) => s.id !== 'home');
  return (
    <>
      <PageHeader title="Overview" />
      <div className="stack">
        <section className="card" aria-labelledby="home-account">
          <h2 id="home-account">Signed in</h2>
          <dl className="facts">
            <dt>Account</dt><dd>{account.email ?? '—'}</dd>
            <dt>Organisation</dt><dd>{account.tenantName ?? account.tenantSlug ?? '—'}</dd>
            <dt>Role</dt><dd>{account.role}</dd>
          </dl>
        </section>
        {others.length > 0 && (
          <section className="card" aria-labelledby="home-sections">
            <h2 id="home-sections">Sections</h2>
            <ul>
              {others.map((s) => <li key={s.id}><Link href={s.base}>{s.title}</Link></li>)}
            </ul>
          </section>
        )}
        {account.can('notes.read') && <NotesCard canWrite={account.can('notes.write')} />}
      </div>
    </>
  );
}
