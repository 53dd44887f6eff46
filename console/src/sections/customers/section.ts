import { lazy } from 'react';
import type { Section } from '../types';

export const section: Section = {
  id: 'customers',
  title: 'Customers & data',
  base: '/customers',
  permission: 'insights.read',
  nav: [
    { label: 'Customers', path: '/' },
    { label: 'Search', path: '/search' },
    { label: 'Add an interaction', path: '/ingest', permission: 'insights.write' },
    { label: 'Import CSV', path: '/import', permission: 'insights.write' },
  ],
  // fixed paths before '/:id', which would match them too
  routes: [
    { path: '/', component: lazy(() => import('./CustomersPage')) },
    { path: '/search', component: lazy(() => import('./SearchPage')) },
    { path: '/ingest', component: lazy(() => import('./IngestPage')), permission: 'insights.write' },
    { path: '/import', component: lazy(() => import('./ImportPage')), permission: 'insights.write' },
    { path: '/:id', component: lazy(() => import('./CustomerPage')) },
  ],
};
