import { lazy } from 'react';
import type { Section } from '../types';

export const section: Section = {
  id: 'account',
  title: 'Your account',
  base: '/account',
  permission: 'self.sessions',
  nav: [{ label: 'Your account', path: '/' }],
  routes: [{ path: '/', component: lazy(() => import('./AccountPage')) }],
};
