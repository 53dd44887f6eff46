// Boots the console (docs/console.md): styles, then the app into #root.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import './lib/forms'; // zod's jitless mode, before any schema is used
import './styles/tokens.css';
import './styles/base.css';
import './styles/components.css';
import { App } from './app/App';

createRoot(document.getElementById('root')!).render(<StrictMode><App /></StrictMode>);
