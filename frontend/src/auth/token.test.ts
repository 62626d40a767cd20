import { describe, expect, it } from 'vitest';
import { authMiddleware, authProblem, getToken, onAuthProblem, setToken, TOKEN_KEY, type AuthProblem, type TokenStorage } from './token';

function memory(): TokenStorage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

const params = (request: Request) => ({ request, schemaPath: '/api/stats', params: {}, id: '1', options: {} as never });

describe('token storage', () => {
  it('keeps a trimmed token and forgets an empty one', () => {
    const s = memory();
    setToken('  prawn_abc \n', s);
    expect(s.data.get(TOKEN_KEY)).toBe('prawn_abc');
    expect(getToken(s)).toBe('prawn_abc');
    setToken('', s);
    expect(getToken(s)).toBeUndefined();
  });
});

describe('authMiddleware', () => {
  it('sends the saved token as a bearer token, and none when there is none', async () => {
    const withToken = authMiddleware(() => 'prawn_xyz');
    const req = (await withToken.onRequest?.(params(new Request('http://x/api/stats')))) as Request;
    expect(req.headers.get('Authorization')).toBe('Bearer prawn_xyz');
    expect(new URL(req.url).search).toBe(''); // never in the URL
    const without = authMiddleware(() => undefined);
    const bare = (await without.onRequest?.(params(new Request('http://x/api/stats')))) as Request;
    expect(bare.headers.has('Authorization')).toBe(false);
  });

  it('reports 401 and 403 answers with the server detail, and nothing else', async () => {
    const seen: AuthProblem[] = [];
    const off = onAuthProblem((p) => seen.push(p));
    const mw = authMiddleware(() => undefined);
    const problem = (status: number) =>
      new Response(JSON.stringify({ title: 'x', status, detail: `d${status}` }), {
        status,
        headers: { 'Content-Type': 'application/problem+json' },
      });
    await mw.onResponse?.({ ...params(new Request('http://x/api/stats')), response: problem(401) });
    const sent = new Request('http://x/api/stats', { headers: { Authorization: 'Bearer prawn_bad' } });
    await mw.onResponse?.({ ...params(sent), response: problem(401) });
    await mw.onResponse?.({ ...params(sent), response: problem(403) });
    await mw.onResponse?.({ ...params(sent), response: new Response('{}', { status: 200 }) });
    off();
    expect(seen).toEqual([
      { kind: 'missing', detail: 'd401' },
      { kind: 'invalid', detail: 'd401' },
      { kind: 'scope', detail: 'd403' },
    ]);
  });

  it('maps statuses to problems', () => {
    expect(authProblem(200, true)).toBeUndefined();
    expect(authProblem(401, false)?.kind).toBe('missing');
    expect(authProblem(401, true)?.kind).toBe('invalid');
    expect(authProblem(403, true)?.kind).toBe('scope');
  });
});
