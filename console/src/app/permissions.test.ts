import { lazy } from 'react';
import type { Section } from '../sections/types';
import { canFrom, visibleSections } from './permissions';

const page = lazy(async () => ({ default: () => null }));
const admin: Section = {
  id: 'admin', title: 'Admin', base: '/admin',
  nav: [{ label: 'Members', path: '/members', permission: 'users.manage' }, { label: 'Keys', path: '/keys', permission: 'api_keys.manage' }],
  routes: [{ path: '/', component: page }, { path: '/members', component: page, permission: 'users.manage' }],
};
const hidden: Section = { id: 'hidden', title: 'Hidden', base: '/h', nav: [], routes: [{ path: '/', component: page }] };

describe('visibleSections', () => {
  test('a section whose every nav entry the role lacks is not shown', () => {
    const viewer = canFrom(new Set(['users.read']));
    expect(visibleSections([admin, hidden], viewer).map((s) => s.id)).toEqual(['hidden']);
  });

  test('only the entries the role may use are shown', () => {
    const keys = canFrom(new Set(['api_keys.manage']));
    expect(visibleSections([admin], keys).map((s) => s.nav.map((n) => n.label))).toEqual([['Keys']]);
    expect(visibleSections([admin], canFrom(null))[0].nav).toHaveLength(2);
  });
});
