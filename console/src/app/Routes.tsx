// The routes of every section, nested under each section's base; a page needing a
// permission the user lacks shows Forbidden, an unknown address NotFound.
import { Suspense, type ComponentType } from 'react';
import { Route, Switch, useLocation } from 'wouter';
import type { Section } from '../sections/types';
import { PageSkeleton } from '../ui/Skeleton';
import { ErrorBoundary } from './ErrorBoundary';
import { Forbidden, NotFound } from './NotFound';
import { joinPath, type Can } from './permissions';

function Guarded({ component: Page, permission, can }: { component: ComponentType; permission?: string; can: Can }) {
  if (!can(permission)) return <Forbidden permission={permission} />;
  return <Page />;
}

export function SectionRoutes({ sections, can }: { sections: Section[]; can: Can }) {
  const [location] = useLocation();
  const routes = sections.flatMap((s) => s.routes.map((r) => ({ key: `${s.id}:${r.path}`, path: joinPath(s.base, r.path),
    component: r.component, sectionPermission: s.permission, routePermission: r.permission })));
  return (
    <ErrorBoundary resetKey={location}>
      <Suspense fallback={<PageSkeleton />}>
        <Switch>
          {routes.map((r) => (
            <Route key={r.key} path={r.path}>
              {can(r.sectionPermission)
                ? <Guarded component={r.component} permission={r.routePermission} can={can} />
                : <Forbidden permission={r.sectionPermission} />}
            </Route>
          ))}
          <Route><NotFound /></Route>
        </Switch>
      </Suspense>
    </ErrorBoundary>
  );
}
