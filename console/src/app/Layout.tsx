// The signed-in page: skip link, header (organisation, connection state, account menu),
// navigation, and the main landmark holding the current section's page.
import { useEffect, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { sections } from '../sections';
import { useRealtimeState } from '../lib/realtime';
import { Button } from '../ui/Button';
import { useAccount } from './auth';
import { Nav } from './Nav';
import { SectionRoutes } from './Routes';
import { UserMenu } from './UserMenu';
import { visibleSections } from './permissions';

function RealtimeStatus() {
  const state = useRealtimeState();
  if (state !== 'reconnecting') return null;
  return <span className="realtime-status" role="status">Reconnecting…</span>;
}

export function Layout() {
  const account = useAccount();
  const [navOpen, setNavOpen] = useState(false);
  const [location] = useLocation();
  const visible = visibleSections(sections, account.can);
  useEffect(() => setNavOpen(false), [location]);
  return (
    <>
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="app-header">
        <Button className="nav-toggle" variant="ghost" size="small" aria-expanded={navOpen} aria-controls="app-nav"
          onClick={() => setNavOpen((o) => !o)}>Menu</Button>
        <Link href="/" className="app-brand">Cairn</Link>
        <span className="app-tenant">{account.tenantName ?? account.tenantSlug}</span>
        <div className="app-header-end">
          <RealtimeStatus />
          <UserMenu />
        </div>
      </header>
      <div className="app-body">
        <Nav sections={visible} open={navOpen} onNavigate={() => setNavOpen(false)} />
        <main id="main" className="app-main" tabIndex={-1}>
          <SectionRoutes sections={sections} can={account.can} />
        </main>
      </div>
    </>
  );
}
