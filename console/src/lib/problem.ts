// problem+json (RFC 9457) errors as the SDK throws them (CairnError): what to show a user.
import { CairnError } from '@cairn/sdk';
import { formatDuration } from './format';

export { CairnError };

/** True when `error` is a CairnError, optionally of the given status or problem slug. */
export function isProblem(error: unknown, match?: number | string): error is CairnError {
  if (!(error instanceof CairnError)) return false;
  if (match === undefined) return true;
  return typeof match === 'number' ? error.status === match : error.slug === match;
}

/** "the code is wrong" -> "The code is wrong." (the API's details are lowercase phrases). */
export function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const capital = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** The sentence to show for an error: the problem's detail, with a few cases worded for people. */
export function problemMessage(error: unknown): string {
  if (!(error instanceof CairnError)) {
    return error instanceof Error && error.message ? sentence(error.message) : 'Something went wrong.';
  }
  if (error.status === 0) return 'The server cannot be reached. Check your connection and try again.';
  if (error.status === 429) {
    const wait = error.retryAfter != null ? ` Try again in ${formatDuration(error.retryAfter * 1000)}.` : ' Try again later.';
    return `${sentence(error.detail || 'too many attempts')}${wait}`;
  }
  if (error.status === 403 && !error.detail) return 'You do not have permission to do this.';
  return sentence(error.detail || error.title || `the request failed (HTTP ${error.status})`);
}

/** The problem's field errors ({field, message, ...}), [] for any other error. */
export function fieldErrors(error: unknown): { field: string; message: string }[] {
  if (!(error instanceof CairnError)) return [];
  return error.errors.map((e) => ({ field: e.field, message: e.message }));
}
