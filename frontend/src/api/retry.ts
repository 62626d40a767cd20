// Reads the server asks to retry shortly are retried here, so the page waits out a brief limit
// (429 of PRAWN_READ_RATE_LIMIT, 503 of a busy database) instead of showing an error.

import type { Middleware } from 'openapi-fetch';

/** The longest Retry-After the page waits out by itself, in seconds; a longer one is shown. */
export const MAX_WAIT_SECONDS = 5;
/** How many times one read is tried again. */
export const RETRIES = 3;

/** Seconds to wait from a Retry-After header (delay-seconds or an HTTP date); undefined if none. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const v = header.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

const sleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      resolve();
    }, ms);
    const stop = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', stop, { once: true });
  });

/**
 * The generated client's middleware: a GET answered 429 or 503 with a Retry-After of at most
 * MAX_WAIT_SECONDS is sent again after that wait (and a little jitter), up to RETRIES times; an
 * abort of the read stops the wait. Other answers, and other methods (a view must not be sent
 * twice), pass as they are.
 */
export function retryMiddleware(send: (r: Request) => Promise<Response> = (r) => globalThis.fetch(r), wait: Sleep = sleep): Middleware {
  return {
    async onResponse({ request, response }) {
      if (request.method !== 'GET') return undefined;
      let res = response;
      for (let i = 0; i < RETRIES && (res.status === 429 || res.status === 503); i++) {
        const s = retryAfterSeconds(res.headers.get('Retry-After'));
        if (s === undefined || s > MAX_WAIT_SECONDS) break;
        await wait(s * 1000 + Math.random() * 250, request.signal);
        res = await send(request.clone());
      }
      return res;
    },
  };
}
