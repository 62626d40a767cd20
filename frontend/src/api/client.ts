// The one API client: openapi-fetch typed by the generated schema.d.ts
// (`scripts/frontend.sh generate` writes it from api/openapi.yaml).

import createClient from 'openapi-fetch';
import { authMiddleware } from '../auth/token';
import { retryMiddleware } from './retry';
import type { components, paths } from './schema';

/** A typed client for prawn's API on the page's own origin. */
export const api = createClient<paths>({ baseUrl: '' });
// The saved API token (private stats), and the token prompt's signal: see src/auth.
api.use(authMiddleware());
// Registered last, so it sees an answer first: a read that is told to retry shortly is retried
// (with the token) before the token prompt or the page hear of it.
api.use(retryMiddleware());

/** An RFC 9457 problem as the API sends it. */
export type Problem = components['schemas']['Problem'];

/** A sentence for a failed call: the problem's title and detail, or the HTTP status. */
export function describeError(error: unknown, response?: Response): string {
  if (error && typeof error === 'object' && 'title' in error) {
    const p = error as Problem;
    return p.detail ? `${p.title}: ${p.detail}` : p.title;
  }
  if (error instanceof Error) return error.name === 'TypeError' ? 'The server could not be reached.' : error.message;
  if (response) return `The server answered ${response.status} ${response.statusText}`.trim() + '.';
  return 'Something went wrong.';
}
