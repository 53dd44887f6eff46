import { canFrom, visibleSections } from '../../app/permissions';
import type { Section } from '../types';
import { section } from './section';

const hiddenPages: Section = { id: 'hidden', title: 'Hidden', base: '/hidden', nav: [], routes: section.routes.slice(0, 1) };
const labels = (permissions: string[]) => visibleSections([section, hiddenPages], canFrom(new Set(permissions)))
  .map((s) => `${s.id}: ${s.nav.map((n) => n.label).join(', ')}`);

describe('the operations section in the navigation', () => {
  test('each entry shows with its own permission; a role with none of them sees no Operations group', () => {
    expect(labels(['audit.manage', 'jobs.manage', 'tenant.manage', 'system.status']))
      .toEqual(['operations: Audit log, Jobs, Settings, System health', 'hidden: ']);
    expect(labels(['jobs.manage'])).toEqual(['operations: Jobs', 'hidden: ']);
    // a member: nothing of it (a section that declares no entries at all is still kept)
    expect(labels(['notes.read', 'users.read'])).toEqual(['hidden: ']);
  });

  test('every page needs the permission of its entry', () => {
    const byPath = new Map(section.routes.map((r) => [r.path, r.permission]));
    for (const n of section.nav) expect(byPath.get(n.path)).toBe(n.permission);
    expect(byPath.get('/jobs/:id')).toBe('jobs.manage');
  });
});
