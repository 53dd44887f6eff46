import { lazy } from 'react';
import type { Section } from '../types';

export const section: Section = {
  id: 'home',
  title: 'Overview',
  base: '/',
  nav: [{ label: 'Overview', path: '/' }],
  routes: [{ path: '/', component: lazy(() => import('./HomePage')) }],
};
