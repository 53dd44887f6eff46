// Component tests' setup: the machine running them may be busy, so Testing Library's
// waitFor/findBy wait up to 10 s (they return as soon as the condition holds).
import { configure } from '@testing-library/react';

configure({ asyncUtilTimeout: 10_000 });
