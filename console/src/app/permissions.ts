// Which sections and pages a user may see: the permissions of their role.
import type { NavEntry, Section } from '../sections/types';

/** Answers whether the signed-in user holds a permission (none asked: yes). */
export type Can = (permission?: string) => boolean;

/** A Can over a set of permission names (null: not known, so allow and let the API say 403). */
export function canFrom(permissions: ReadonlySet<string> | null): Can {
  return (permission) => !permission || permissions === null || permissions.has(permission);
}

/** The sections the user may open, and in each only the nav entries they may use. */
export function visibleSections(all: Section[], can: Can | undefined): (Section & { nav: NavEntry[] })[] {
  const allowed = can ?? (() => false);
  return all
    .filter((s) => allowed(s.permission))
    .map((s) => ({ ...s, nav: s.nav.filter((n) => allowed(n.permission)), declaredNav: s.nav.length }))
    // a section whose every nav entry is hidden is hidden too (its pages still answer 403)
    .filter((s) => s.nav.length > 0 || (s.declaredNav === 0 && s.routes.length > 0))
    .map(({ declaredNav: _, ...s }) => s);
}

/** Joins a section's base and a relative path: ('/insights', '/') -> '/insights'. */
export function joinPath(base: string, path: string): string {
  const b = base === '/' ? '' : base.replace(/\/+$/, '');
  const p = path === '/' ? '' : path;
  return b + p || '/';
}
