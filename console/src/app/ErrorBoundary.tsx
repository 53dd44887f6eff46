import { Component, type ErrorInfo, type ReactNode } from 'react';
import { Button } from '../ui/Button';
import { ErrorNotice } from '../ui/ErrorNotice';

// A section's chunk that is gone: the server was upgraded under an open page (its hashed
// file names changed), so only a reload helps.
function isStaleChunk(error: unknown): boolean {
  return error instanceof Error && /dynamically imported module|Importing a module script failed/i.test(error.message);
}

interface Props { children: ReactNode; /** Changing it clears the error (the route, say). */ resetKey?: unknown }
interface State { error: unknown; resetKey: unknown }

/** Catches a page's render errors so the rest of the console keeps working. */
export class ErrorBoundary extends Component<Props, State> {
  state: State = { error: null, resetKey: this.props.resetKey };

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return { error };
  }

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    return props.resetKey !== state.resetKey ? { error: null, resetKey: props.resetKey } : null;
  }

  componentDidCatch(error: unknown, info: ErrorInfo) {
    console.warn('page failed to render', error, info.componentStack);
  }

  render() {
    if (this.state.error != null && isStaleChunk(this.state.error)) {
      return (
        <div className="notice notice-info" role="alert">
          <p>The console has been updated since this page was opened.</p>
          <Button variant="primary" onClick={() => location.reload()}>Reload</Button>
        </div>
      );
    }
    if (this.state.error != null) {
      return <ErrorNotice error={this.state.error} title="This page failed to load" onRetry={() => this.setState({ error: null })} />;
    }
    return this.props.children;
  }
}
