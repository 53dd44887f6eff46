// Boots the console (docs/console.md): styles, then the app into #root.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { config } from 'zod/v4/core';
import './styles/tokens.css';
import './styles/base.css';
import './styles/components.css';
import { App } from './app/App';

// zod must not generate code (the CSP has no 'unsafe-eval'); lib/forms says so too
config({ jitless: true });

createRoot(document.getElementById('root')!).render(<StrictMode><App /></StrictMode>);
