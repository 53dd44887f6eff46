// The overview: who is signed in where, and the sections this user can open.
import { Link } from 'wouter';
import { useAuth } from '../../app/auth';
import { visibleSections } from '../../app/permissions';
import { sections } from '..';
import { PageHeader } from '../../ui';

export default function HomePage() {
  const { account } = useAuth();
  const others = visibleSections(sections, account?.can).filter((s) => s.id !== 'home');
  return (
    <>
      <PageHeader title="Overview" />
      <div className="stack">
        <section className="card" aria-labelledby="home-account">
          <h2 id="home-account">Signed in</h2>
          <dl>
            <dt>Account</dt><dd>{account?.email ?? '—'}</dd>
            <dt>Organisation</dt><dd>{account?.tenantName ?? '—'}</dd>
            <dt>Role</dt><dd>{account?.role ?? '—'}</dd>
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
      </div>
    </>
  );
}
