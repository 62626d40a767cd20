// API tokens in the page: kept in the browser's local storage (never in a URL), sent as
// `Authorization: Bearer <token>` on every call of the generated client (authMiddleware), and a
// signal for the prompt (TokenPrompt) when the server asks for one (401) or refuses it (403).
// With PRAWN_STATS=public the server never asks, and none of this shows.

import type { Middleware } from 'openapi-fetch';

/** The local-storage key of the token. */
export const TOKEN_KEY = 'prawn.token';

/** The storage the token lives in; tests pass their own. */
export interface TokenStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

function storage(): TokenStorage | undefined {
  try {
    return typeof localStorage === 'undefined' ? undefined : localStorage;
  } catch {
    return undefined; // storage disabled (private mode, a sandboxed frame)
  }
}

/** The saved token, or undefined. */
export function getToken(store = storage()): string | undefined {
  try {
    return store?.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Saves a token (trimmed); an empty one forgets it. */
export function setToken(token: string, store = storage()): void {
  const t = token.trim();
  try {
    if (t) store?.setItem(TOKEN_KEY, t);
    else store?.removeItem(TOKEN_KEY);
  } catch {
    // Nothing to keep it in: the page asks again on the next load.
  }
}

/** Why the server wants a token: none was sent, the one sent is not valid, or its scope is too small. */
export type AuthProblem = { kind: 'missing' | 'invalid' | 'scope'; detail?: string };

type Listener = (p: AuthProblem) => void;
const listeners = new Set<Listener>();

/** Calls listener whenever an API call is refused for want of a (better) token; returns the unsubscribe. */
export function onAuthProblem(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** What a refused answer means for the token. */
export function authProblem(status: number, sentToken: boolean, detail?: string): AuthProblem | undefined {
  if (status === 403) return { kind: 'scope', detail };
  if (status === 401) return { kind: sentToken ? 'invalid' : 'missing', detail };
  return undefined;
}

/** The generated client's middleware: adds the saved token, and reports 401 and 403 answers. */
export function authMiddleware(read: () => string | undefined = getToken): Middleware {
  return {
    onRequest({ request }) {
      const token = read();
      if (token) request.headers.set('Authorization', `Bearer ${token}`);
      return request;
    },
    async onResponse({ request, response }) {
      const sent = request.headers.has('Authorization');
      if (response.status !== 401 && response.status !== 403) return response;
      let detail: string | undefined;
      try {
        const body = (await response.clone().json()) as { detail?: unknown };
        if (typeof body.detail === 'string') detail = body.detail;
      } catch {
        // Not a problem document: the status says enough.
      }
      const p = authProblem(response.status, sent, detail);
      if (p) listeners.forEach((l) => l(p));
      return response;
    },
  };
}
