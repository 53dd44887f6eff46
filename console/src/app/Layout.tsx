// The signed-in page: skip link, header (organisation, connection state, account menu),
// navigation, and the main landmark holding the current section's page.
import { useEffect, useRef, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { sections } from '../sections';
import { useRealtimeState } from '../lib/realtime';
import { onApiError } from '../lib/query';
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

// After a navigation (not the first page), focus moves to the new page's heading, so a
// screen reader announces it and Tab starts from the content, not from the link clicked.
function useFocusOnNavigation(location: string) {
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return undefined;
    }
    let tries = 0;
    const t = setInterval(() => { // the page may still be loading its chunk
      const h1 = document.querySelector<HTMLElement>('#main h1');
      if (h1 || ++tries > 50) {
        clearInterval(t);
        h1?.focus({ preventScroll: false });
      }
    }, 20);
    return () => clearInterval(t);
  }, [location]);
}

// The organisation requires two-step verification of owners and admins, and this session was
// opened without it: the API refuses most things (403 mfa-required) until the user enrols.
function MfaRequiredNotice() {
  const [required, setRequired] = useState(false);
  useEffect(() => onApiError((e) => { if (e.slug === 'mfa-required') setRequired(true); }), []);
  if (!required) return null;
  return (
    <div className="notice notice-warning" role="alert">
      <p>Your organisation requires two-step verification for your role. <Link href="/account">Set it up</Link>, then sign in again.</p>
    </div>
  );
}

export function Layout() {
  const account = useAccount();
  const [navOpen, setNavOpen] = useState(false);
  const [location] = useLocation();
  const visible = visibleSections(sections, account.can);
  useEffect(() => setNavOpen(false), [location]);
  useFocusOnNavigation(location);
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
          <MfaRequiredNotice />
          <SectionRoutes sections={sections} can={account.can} />
        </main>
      </div>
    </>
  );
}
