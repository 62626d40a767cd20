import { useEffect, useState } from 'react';
import { describeError } from './api/client';

/** What a request is showing: still loading, failed with a message, or done. */
export type Load<T> = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ok'; data: T };

/** The result of an openapi-fetch call. */
export interface Fetched<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/**
 * Runs `load` whenever a dependency changes and returns its state. A newer call
 * aborts the older one, so a slow answer for an old range never wins.
 * The previous data stays visible while a refresh of the same view loads.
 * Nothing is requested while `enabled` is false.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<Fetched<T>>, deps: readonly unknown[], enabled = true): Load<T> {
  const [value, setValue] = useState<Load<T>>({ state: 'loading' });
  useEffect(() => {
    if (!enabled) return;
    const ctl = new AbortController();
    load(ctl.signal).then(
      ({ data, error, response }) => {
        if (ctl.signal.aborted) return;
        if (data !== undefined && error === undefined) setValue({ state: 'ok', data });
        else setValue({ state: 'error', message: describeError(error, response) });
      },
      (err: unknown) => {
        if (ctl.signal.aborted) return;
        setValue({ state: 'error', message: describeError(err) });
      },
    );
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the caller lists what load depends on
  }, [...deps, enabled]);
  return value;
}
