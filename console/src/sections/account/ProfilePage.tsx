// Who is signed in: the account (GET /users/me) and the organisations it belongs to, with
// its role in each (GET /auth/tenants); switching is in the account menu.
import { useEffect } from 'react';
import { API } from '../../lib/sdk';
import { useApiQuery } from '../../lib/query';
import { ErrorNotice, PageHeader, Skeleton } from '../../ui';
import './account.css';

interface Me { id: string; email: string; role: string; tenant: { id: string; slug: string; name: string } }
interface MyTenant { id: string; slug: string; name: string; role: string; current: boolean }

export default function ProfilePage() {
  useEffect(() => { document.title = 'Profile · Cairn console'; }, []);
  const me = useApiQuery<Me>(['account', 'me'], `${API}/users/me`);
  const tenants = useApiQuery<{ items: MyTenant[] }>(['account', 'tenants'], `${API}/auth/tenants`);
  return (
    <>
      <PageHeader title="Profile" />
      <div className="stack account-page">
        <section className="card" aria-labelledby="profile-heading" aria-busy={me.isPending}>
          <h2 id="profile-heading">Your account</h2>
          {me.isError ? <ErrorNotice error={me.error} onRetry={() => me.refetch()} /> : (
            <dl className="facts">
              <dt>E-mail</dt><dd>{me.data ? me.data.email : <Skeleton />}</dd>
              <dt>Organisation</dt><dd>{me.data ? `${me.data.tenant.name} (${me.data.tenant.slug})` : <Skeleton />}</dd>
              <dt>Role</dt><dd>{me.data ? me.data.role : <Skeleton />}</dd>
            </dl>
          )}
        </section>
        <section className="card" aria-labelledby="orgs-heading" aria-busy={tenants.isPending}>
          <h2 id="orgs-heading">Your organisations</h2>
          {tenants.isError ? <ErrorNotice error={tenants.error} onRetry={() => tenants.refetch()} />
            : tenants.data ? (
              <>
                <ul className="org-list">
                  {tenants.data.items.map((t) => (
                    <li key={t.id} aria-current={t.current || undefined}>
                      <strong>{t.name}</strong> <span className="muted">({t.slug}) · {t.role}</span>
                      {t.current && <span className="badge">current</span>}
                    </li>
                  ))}
                </ul>
                <p className="muted">
                  {tenants.data.items.length > 1
                    ? 'Switch between them from the Account menu at the top of the page.'
                    : 'To work in another organisation, ask one of its owners or admins to add your e-mail address.'}
                </p>
              </>
            ) : <Skeleton lines={2} />}
        </section>
      </div>
    </>
  );
}
