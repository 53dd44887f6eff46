// What a section of the console declares (docs/console.md "Adding a section"). The shell
// builds the navigation and the routes from these; a section never edits the shell.
import type { ComponentType, LazyExoticComponent } from 'react';

/** A page of a section. `component` is `lazy(() => import('./SomePage'))`, so each section
 *  is loaded on demand as a chunk of its own. */
export interface SectionRoute {
  /** Relative to the section's base: '/' (the section's home), '/customers/:id'. */
  path: string;
  component: LazyExoticComponent<ComponentType>;
  /** The permission the page needs beyond the section's own; without it the shell shows
   *  "not allowed" instead of the page. */
  permission?: string;
}

/** An entry in the navigation. */
export interface NavEntry {
  label: string;
  /** Relative to the section's base ('/' for the base itself). */
  path: string;
  /** Hidden from users without it. */
  permission?: string;
}

export interface Section {
  /** Unique, lowercase: 'insights', 'admin', 'chat'. */
  id: string;
  /** Shown as the navigation group's heading. */
  title: string;
  /** Where its routes live under /console: '/insights'. The home section's base is '/'. */
  base: string;
  /** The permission that shows the section (nav) and opens its pages; none: every user. */
  permission?: string;
  nav: NavEntry[];
  routes: SectionRoute[];
  /** Pages shown without a session, whether signed in or not (a link in a mail: password
   *  reset, registration confirmation). Their paths are absolute under /console ('/reset'),
   *  since mails link to them; they render on their own, outside the navigation. */
  publicRoutes?: PublicRoute[];
}

/** A page anyone may open (see Section.publicRoutes). */
export interface PublicRoute {
  /** Absolute under /console: '/reset', '/register/confirm'. */
  path: string;
  component: LazyExoticComponent<ComponentType>;
}
