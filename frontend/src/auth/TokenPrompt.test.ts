// @vitest-environment jsdom
import { act, createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenPrompt } from './TokenPrompt';
import { authMiddleware, getToken, TOKEN_KEY } from './token';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const refuse = async (status: number, token?: string) => {
  const headers = token ? { Authorization: `Bearer ${token}` } : undefined;
  const request = new Request('http://x/api/stats', { headers });
  const response = new Response(JSON.stringify({ title: 't', status, detail: 'from the server' }), { status });
  await authMiddleware().onResponse?.({ request, response, schemaPath: '/api/stats', params: {}, id: '1', options: {} as never });
};

// The form is a lazy chunk: a refusal, then its module loaded, then React's render of it.
const refuseAndShow = async (status: number, token?: string) => {
  await act(() => refuse(status, token));
  await act(async () => {
    await import('./TokenForm');
  });
  await act(async () => {
    await new Promise((r) => setTimeout(r, 0));
  });
};

afterEach(() => {
  document.body.innerHTML = '';
  localStorage.clear();
});

describe('TokenPrompt', () => {
  it('shows nothing until the server asks, then keeps the token pasted and reloads', async () => {
    const host = document.createElement('div');
    document.body.append(host);
    let reloads = 0;
    const root = createRoot(host);
    await act(async () => root.render(createElement(TokenPrompt, { reload: () => reloads++ })));
    expect(host.textContent).toBe('');

    await refuseAndShow(401);
    expect(host.textContent).toContain('The stats of this prawn are private');
    expect(host.textContent).toContain('prawn token create --name NAME --scope read');
    expect(host.textContent).toContain('The server said: from the server');

    const input = host.querySelector('input') as HTMLInputElement;
    expect(input.type).toBe('password');
    await act(async () => {
      const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')?.set;
      set?.call(input, ' prawn_pasted ');
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await act(async () => host.querySelector('form')?.requestSubmit());
    expect(localStorage.getItem(TOKEN_KEY)).toBe('prawn_pasted');
    expect(reloads).toBe(1);
    expect(window.location.search).toBe(''); // never in a URL
    root.unmount();
  });

  it('says when the saved token is wrong, and forgets it', async () => {
    localStorage.setItem(TOKEN_KEY, 'prawn_revoked');
    const host = document.createElement('div');
    document.body.append(host);
    let reloads = 0;
    const root = createRoot(host);
    await act(async () => root.render(createElement(TokenPrompt, { reload: () => reloads++ })));
    await refuseAndShow(401, 'prawn_revoked');
    expect(host.textContent).toContain('The saved token is not valid');
    const forget = [...host.querySelectorAll('button')].find((b) => b.textContent?.includes('Forget')) as HTMLButtonElement;
    await act(async () => forget.click());
    expect(getToken()).toBeUndefined();
    expect(reloads).toBe(1);
    root.unmount();
  });
});
