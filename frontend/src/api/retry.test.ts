import { describe, expect, it } from 'vitest';
import { MAX_WAIT_SECONDS, RETRIES, retryAfterSeconds, retryMiddleware } from './retry';

const answer = (status: number, retryAfter?: string) =>
  new Response('{}', { status, headers: retryAfter === undefined ? {} : { 'Retry-After': retryAfter } });

// Runs the middleware on a first answer; the server's next answers come from `next`.
async function run(method: string, first: Response, next: Response[]) {
  const sent: Request[] = [];
  const waits: number[] = [];
  const m = retryMiddleware(
    async (r) => {
      sent.push(r);
      return next.shift() ?? answer(200);
    },
    async (ms) => {
      waits.push(ms);
    },
  );
  const request = new Request('http://x/api/stats', { method, headers: { Authorization: 'Bearer prawn_t' } });
  const res = await m.onResponse?.({ request, response: first, schemaPath: '/api/stats', params: {}, id: '1', options: {} as never });
  return { res: res ?? first, sent, waits };
}

describe('retryAfterSeconds', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfterSeconds('1')).toBe(1);
    expect(retryAfterSeconds(' 3 ')).toBe(3);
    expect(retryAfterSeconds(new Date(10_500).toUTCString(), 8_000)).toBe(2);
    expect(retryAfterSeconds(new Date(0).toUTCString(), 8_000)).toBe(0);
    expect(retryAfterSeconds(null)).toBeUndefined();
    expect(retryAfterSeconds('soon')).toBeUndefined();
  });
});

describe('retryMiddleware', () => {
  it('waits out a short 429 and returns the answer of the retry, token and all', async () => {
    const { res, sent, waits } = await run('GET', answer(429, '1'), [answer(200)]);
    expect(res.status).toBe(200);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.headers.get('Authorization')).toBe('Bearer prawn_t');
    expect(waits[0]).toBeGreaterThanOrEqual(1000);
    expect(waits[0]).toBeLessThan(1250);
  });

  it('retries a 503 with Retry-After, at most RETRIES times', async () => {
    const busy = () => answer(503, '1');
    const { res, sent } = await run('GET', busy(), [busy(), busy(), busy(), busy()]);
    expect(sent).toHaveLength(RETRIES);
    expect(res.status).toBe(503);
  });

  it('leaves alone what it must not or need not retry', async () => {
    for (const [method, first] of [
      ['POST', answer(429, '1')], // a view is never sent twice
      ['GET', answer(429)], // no Retry-After
      ['GET', answer(429, String(MAX_WAIT_SECONDS + 1))], // too long: the page says so
      ['GET', answer(500, '1')],
      ['GET', answer(401)],
    ] as const) {
      const { res, sent } = await run(method, first, []);
      expect(sent, `${method} ${first.status}`).toHaveLength(0);
      expect(res).toBe(first);
    }
  });

  it('stops waiting when the read is aborted', async () => {
    const ctl = new AbortController();
    const m = retryMiddleware(async () => answer(200));
    const request = new Request('http://x/api/stats', { signal: ctl.signal });
    const pending = m.onResponse?.({ request, response: answer(429, '5'), schemaPath: '/api/stats', params: {}, id: '1', options: {} as never });
    ctl.abort();
    await expect(pending).rejects.toBeDefined();
  });
});
