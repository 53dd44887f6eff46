// The signed-in account: profile and organisations, security (two-step verification,
// password, sign-out everywhere), one's own data (GDPR export and deletion); and the pages
// mails link to, open without a session: password reset and registration confirmation.
import { lazy } from 'react';
import type { Section } from '../types';

const ResetPage = lazy(() => import('./ResetPage'));

export const section: Section = {
  id: 'account',
  title: 'Account',
  base: '/account',
  nav: [
    { label: 'Profile', path: '/' },
    { label: 'Security', path: '/security' },
    { label: 'Your data', path: '/data' },
  ],
  routes: [
    { path: '/', component: lazy(() => import('./ProfilePage')) },
    { path: '/security', component: lazy(() => import('./SecurityPage')) },
    { path: '/data', component: lazy(() => import('./DataPage')) },
  ],
  publicRoutes: [
    { path: '/reset', component: ResetPage },
    { path: '/forgot-password', component: ResetPage },
    { path: '/reset-password', component: ResetPage },
    { path: '/register/confirm', component: lazy(() => import('./ConfirmRegistrationPage')) },
  ],
};
