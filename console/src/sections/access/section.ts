import { lazy } from 'react';
import type { Section } from '../types';

// No section-wide permission: each page needs its own (the routes' rows in src/auth/auth.c),
// so a custom role holding only api_keys.manage sees the API keys page and nothing else, and
// a role holding none of them (viewer, member) sees no Administration entry at all.
export const section: Section = {
  id: 'access',
  title: 'Administration',
  base: '/access',
  nav: [
    { label: 'Members', path: '/members', permission: 'users.manage' },
    { label: 'Roles', path: '/roles', permission: 'roles.manage' },
    { label: 'API keys', path: '/api-keys', permission: 'api_keys.manage' },
  ],
  routes: [
    { path: '/', component: lazy(() => import('./AccessHome')) },
    { path: '/members', component: lazy(() => import('./MembersPage')), permission: 'users.manage' },
    { path: '/roles', component: lazy(() => import('./RolesPage')), permission: 'roles.manage' },
    { path: '/api-keys', component: lazy(() => import('./ApiKeysPage')), permission: 'api_keys.manage' },
  ],
};
