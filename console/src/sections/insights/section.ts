import { lazy } from 'react';
import type { Section } from '../types';

export const section: Section = {
  id: 'insights',
  title: 'Insights',
  base: '/insights',
  permission: 'insights.read',
  nav: [{ label: 'Insights', path: '/' }],
  routes: [{ path: '/', component: lazy(() => import('./InsightsPage')) }],
};
