// Pages anyone may open, signed in or not (a section's `publicRoutes`: the page a password
// reset or registration mail links to). They are matched before the auth gate and shown on
// their own, like the sign-in page; any other address goes to `children` (the gate).
import { Suspense, type ReactNode } from 'react';
import { Route, Switch } from 'wouter';
import type { Section } from '../sections/types';
import { PageSkeleton } from '../ui/Skeleton';
import { ErrorBoundary } from './ErrorBoundary';

export function PublicRoutes({ sections, children }: { sections: Section[]; children: ReactNode }) {
  const routes = sections.flatMap((s) => (s.publicRoutes ?? []).map((r) => ({ key: `${s.id}:${r.path}`, ...r })));
  if (routes.length === 0) return <>{children}</>;
  return (
    <Switch>
      {routes.map(({ key, path, component: Page }) => (
        <Route key={key} path={path}>
          <main id="main" className="signin-page">
            <ErrorBoundary>
              <Suspense fallback={<div className="card signin-card"><PageSkeleton /></div>}>
                <Page />
              </Suspense>
            </ErrorBoundary>
          </main>
        </Route>
      ))}
      <Route>{children}</Route>
    </Switch>
  );
}
