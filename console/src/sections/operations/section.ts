import { lazy } from 'react';
import type { Section } from '../types';

// Every page has its own permission (a custom role may hold some of them): the section shows
// the entries the role may open, and its base goes to the first of them.
export const section: Section = {
  id: 'operations',
  title: 'Operations',
  base: '/operations',
  nav: [
    { label: 'Audit log', path: '/audit', permission: 'audit.manage' },
    { label: 'Jobs', path: '/jobs', permission: 'jobs.manage' },
    { label: 'Settings', path: '/settings', permission: 'tenant.manage' },
    { label: 'System health', path: '/health', permission: 'system.status' },
  ],
  routes: [
    { path: '/', component: lazy(() => import('./OperationsIndex')) },
    { path: '/audit', component: lazy(() => import('./AuditPage')), permission: 'audit.manage' },
    { path: '/jobs', component: lazy(() => import('./JobsPage')), permission: 'jobs.manage' },
    { path: '/jobs/:id', component: lazy(() => import('./JobPage')), permission: 'jobs.manage' },
    { path: '/settings', component: lazy(() => import('./SettingsPage')), permission: 'tenant.manage' },
    { path: '/health', component: lazy(() => import('./HealthPage')), permission: 'system.status' },
  ],
};
