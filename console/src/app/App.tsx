// The console: providers, the router (base /console), and the auth gate.
import { QueryClientProvider } from '@tanstack/react-query';
import { Router } from 'wouter';
import { queryClient } from '../lib/query';
import { PageSkeleton, ToastProvider } from '../ui';
import { AuthProvider, useAuth } from './auth';
import { ErrorBoundary } from './ErrorBoundary';
import { Layout } from './Layout';
import { SessionExpiredDialog } from './SessionExpiredDialog';
import { SignInPage } from './SignInPage';

export const BASE = '/console';

function Gate() {
  const { status } = useAuth();
  if (status === 'loading') return <main id="main" className="app-main"><PageSkeleton /></main>;
  if (status === 'signed-out') return <SignInPage />;
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
              <Gate />
            </AuthProvider>
          </Router>
        </ToastProvider>
      </QueryClientProvider>
    </ErrorBoundary>
  );
}
