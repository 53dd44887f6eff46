// The console: providers, the router (base /console), and the auth gate.
import { lazy, Suspense } from 'react';
import { QueryClientProvider } from '@tanstack/react-query';
import { Router } from 'wouter';
import { queryClient } from '../lib/query';
import { PageSkeleton } from '../ui/Skeleton';
import { ToastProvider } from '../ui/Toast';
import { AuthProvider, useAuth } from './auth';
import { ErrorBoundary } from './ErrorBoundary';
import { Layout } from './Layout';
import { PublicRoutes } from './PublicRoutes';
import { sections } from '../sections';
import { SessionExpiredDialog } from './SessionExpiredDialog';

// the forms (react-hook-form, zod) load only when a sign-in is shown
const SignInPage = lazy(() => import('./SignInPage'));

export const BASE = '/console';

function Loading() {
  return <main id="main" className="app-main"><PageSkeleton /></main>;
}

function Gate() {
  const { status } = useAuth();
  if (status === 'loading') return <Loading />;
  if (status === 'signed-out') return <Suspense fallback={<Loading />}><SignInPage /></Suspense>;
  return (
    <>
      <Layout />
      <SessionExpiredDialog />
    </>
  );
}

export function App() {
  return (
    <ErrorBoundary>
      <QueryClientProvider client={queryClient}>
        <ToastProvider>
          <Router base={BASE}>
            <AuthProvider>
              <PublicRoutes sections={sections}>
                <Gate />
              </PublicRoutes>
            </AuthProvider>
          </Router>
        </ToastProvider>
      </QueryClientProvider>
    </ErrorBoundary>
  );
}
