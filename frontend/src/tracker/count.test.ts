// Tests of the tracker as it ships: count.js is built the way `vite build` builds it
// (vite.tracker.ts), then each test loads it with <script async src> into a fresh jsdom page whose
// sendBeacon and fetch are stubs that record what the script sends. The bodies are compared as
// exact strings, so a field too many, a missing one or another order fails.
import { JSDOM, requestInterceptor, type DOMWindow } from 'jsdom';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTracker, gzipSize, TRACKER_GZIP_LIMIT } from '../../vite.tracker.ts';

const PRAWN = 'https://prawn.example:8443';
const SRC = `${PRAWN}/count.js`;
const ENDPOINT = `${PRAWN}/api/views`;

let code = '';
beforeAll(async () => {
  code = await buildTracker();
}, 60_000);

/** One request the script made: through sendBeacon, or through fetch. */
interface Sent {
  via: 'beacon' | 'fetch';
  url: string;
  body: unknown;
  init?: unknown;
}

interface PageOptions {
  /** The page's URL. */
  url?: string;
  /** Attributes on the script tag, e.g. `data-hash`. */
  attrs?: string;
  /** Extra markup in <head> before the script tag. */
  head?: string;
  /** The script tag's src (default SRC). */
  src?: string;
  /** How many times the tag is on the page. */
  tags?: number;
  referrer?: string;
  /** sendBeacon answers true (default), false, or is missing. */
  beacon?: 'accept' | 'refuse' | 'missing';
  /** fetch rejects (a network error). */
  fetchFails?: boolean;
  webdriver?: boolean;
  prerendering?: boolean;
  visibility?: 'visible' | 'hidden';
  /** document.readyState stays 'loading' until the test changes it. */
  loading?: boolean;
  /** Run the code with eval, so document.currentScript is null. */
  evaluate?: boolean;
  /** Hide popstate from the script, as browsers that fire only hashchange on a fragment change. */
  noPopstate?: boolean;
}

interface Page {
  window: DOMWindow;
  sent: Sent[];
  /** bodies are the bodies sent so far, in order. */
  bodies(): unknown[];
  state: { prerendering: boolean; visibility: string; readyState: string | undefined };
  /** globals are the window's own properties the script added. */
  globals: string[];
  errors: unknown[];
}

/** body is the exact text the script should send for a view. */
function body(view: { url: string; path?: string; referrer?: string; bot?: boolean }): string {
  return JSON.stringify(view);
}

/** open loads a page carrying the tracker and waits until the script ran. */
async function open(opts: PageOptions = {}): Promise<Page> {
  const sent: Sent[] = [];
  const errors: unknown[] = [];
  const state = {
    prerendering: opts.prerendering ?? false,
    visibility: opts.visibility ?? 'visible',
    readyState: opts.loading ? 'loading' : undefined,
  };
  const src = opts.src ?? SRC;
  const tag = `<script async src="${src}" ${opts.attrs ?? ''}></script>`;
  const tags = opts.evaluate ? tag.replace(`src="${src}"`, `src="${src}" type="text/plain"`) : tag.repeat(opts.tags ?? 1);
  let before: Set<string> = new Set();
  let loaded: Promise<unknown> = Promise.resolve();
  const dom = new JSDOM(`<!doctype html><html><head>${opts.head ?? ''}${tags}</head><body><main>page</main></body></html>`, {
    url: opts.url ?? 'https://blog.test/post',
    referrer: opts.referrer,
    runScripts: 'dangerously',
    pretendToBeVisual: true,
    resources: {
      // Nothing leaves the test: the tracker's URL answers with the built code, anything else 404.
      interceptors: [
        requestInterceptor((request) =>
          new URL(request.url).pathname.endsWith('/count.js')
            ? new Response(code, { headers: { 'Content-Type': 'text/javascript; charset=utf-8' } })
            : new Response('not found', { status: 404 }),
        ),
      ],
    },
    beforeParse(window) {
      const doc = window.document;
      if (opts.beacon !== 'missing') {
        Object.defineProperty(window.navigator, 'sendBeacon', {
          configurable: true,
          value: (url: string, data: unknown) => {
            sent.push({ via: 'beacon', url: String(url), body: data });
            return opts.beacon !== 'refuse';
          },
        });
      }
      Object.defineProperty(window, 'fetch', {
        configurable: true,
        writable: true,
        value: (url: string, init: unknown) => {
          sent.push({ via: 'fetch', url: String(url), body: (init as { body?: unknown }).body, init });
          return opts.fetchFails ? Promise.reject(new TypeError('Failed to fetch')) : Promise.resolve({ ok: false, status: 0 });
        },
      });
      Object.defineProperty(window.navigator, 'webdriver', { configurable: true, get: () => opts.webdriver ?? false });
      Object.defineProperty(doc, 'prerendering', { configurable: true, get: () => state.prerendering });
      Object.defineProperty(doc, 'visibilityState', { configurable: true, get: () => state.visibility });
      const realReadyState = inherited(doc, 'readyState');
      Object.defineProperty(doc, 'readyState', {
        configurable: true,
        get: () => state.readyState ?? realReadyState.call(doc),
      });
      if (opts.noPopstate) window.addEventListener('popstate', (e) => e.stopImmediatePropagation(), { capture: true });
      window.addEventListener('error', (e) => errors.push(e.error ?? e.message));
      window.addEventListener('unhandledrejection', (e) => errors.push(e.reason));
      before = new Set(Object.getOwnPropertyNames(window));
      loaded = new Promise((resolve) => window.addEventListener('load', resolve));
    },
  });
  const { window } = dom;
  await loaded;
  if (opts.evaluate) window.eval(code);
  await tick(window);
  const globals = Object.getOwnPropertyNames(window).filter((k) => !before.has(k));
  return { window, sent, bodies: () => sent.map((s) => s.body), state, globals, errors };
}

/** inherited returns the getter of a property obj inherits (jsdom reads readyState too). */
function inherited(obj: object, name: string): () => unknown {
  for (let proto = Object.getPrototypeOf(obj); proto; proto = Object.getPrototypeOf(proto)) {
    const get = Object.getOwnPropertyDescriptor(proto, name)?.get;
    if (get) return get;
  }
  throw new Error(`no inherited getter ${name}`);
}

/** tick waits for the window's tasks queued so far (the script counts a navigation in a task). */
function tick(window: DOMWindow): Promise<void> {
  return new Promise((resolve) => window.setTimeout(resolve, 0));
}

/** navigate runs a history change and waits until the script has handled it. */
async function navigate(page: Page, change: (w: DOMWindow) => void): Promise<void> {
  change(page.window);
  await tick(page.window);
}

/** traverse runs a change that fires `event` later (history.back, location.hash) and waits for it. */
async function traverse(page: Page, event: 'popstate' | 'hashchange', change: (w: DOMWindow) => void): Promise<void> {
  const fired = new Promise((resolve) => page.window.addEventListener(event, resolve, { once: true }));
  change(page.window);
  await fired;
  await tick(page.window);
}

describe('the built count.js', () => {
  it(`is at most ${TRACKER_GZIP_LIMIT} bytes gzipped`, () => {
    const size = gzipSize(code);
    expect(size).toBeGreaterThan(200);
    expect(size).toBeLessThanOrEqual(TRACKER_GZIP_LIMIT);
  });

  it('is one IIFE with no imports or exports', () => {
    expect(code.startsWith('(function(')).toBe(true);
    expect(code.trimEnd().endsWith('})();')).toBe(true);
    expect(code).not.toMatch(/\bimport\b|\bexport\b|\brequire\(/);
  });

  it('adds only window.prawn and touches no cookie or storage', async () => {
    const page = await open();
    expect(page.globals).toEqual(['prawn']);
    expect(page.window.document.cookie).toBe('');
    expect(page.window.localStorage.length).toBe(0);
    expect(page.window.sessionStorage.length).toBe(0);
    expect(page.errors).toEqual([]);
  });
});

describe('a page load', () => {
  it('sends the page URL to /api/views on the script’s own origin with sendBeacon', async () => {
    const page = await open({ url: 'https://blog.test/post/hello' });
    expect(page.sent).toEqual([{ via: 'beacon', url: ENDPOINT, body: body({ url: 'https://blog.test/post/hello' }) }]);
  });

  it('sends a string body, which sendBeacon posts as text/plain', async () => {
    const page = await open();
    expect(typeof page.sent[0]?.body).toBe('string');
  });

  it('posts to the origin of the script’s src, whatever its path and query', async () => {
    const page = await open({ src: 'https://stats.example/prawn/count.js?v=2' });
    expect(page.sent.map((s) => s.url)).toEqual(['https://stats.example/api/views']);
  });

  it('keeps the query (utm_*) in url and drops the fragment', async () => {
    const page = await open({ url: 'https://blog.test/post?utm_source=hn&utm_medium=social&utm_campaign=launch#comments' });
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/post?utm_source=hn&utm_medium=social&utm_campaign=launch' })]);
  });

  it('sends document.referrer when there is one', async () => {
    const page = await open({ referrer: 'https://news.example/item?id=1' });
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/post', referrer: 'https://news.example/item?id=1' })]);
  });

  it('marks a visit as a bot when navigator.webdriver is true', async () => {
    const page = await open({ webdriver: true, referrer: 'https://news.example/' });
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/post', referrer: 'https://news.example/', bot: true })]);
  });

  it('counts once when the tag is on the page twice', async () => {
    const page = await open({ tags: 2 });
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/post' })]);
  });

  it('does nothing from an inline copy, which has no origin to send to', async () => {
    const page = await open({ evaluate: true, src: 'https://prawn.example/other.js' });
    page.window.document.querySelector('script')?.remove();
    const inline = page.window.document.createElement('script');
    inline.textContent = code;
    page.window.document.head.append(inline);
    expect(page.sent).toEqual([]);
    expect(page.window.prawn).toBeUndefined();
    expect(page.errors).toEqual([]);
  });

  it('finds its tag without document.currentScript', async () => {
    const page = await open({ evaluate: true, attrs: 'data-path="/found"' });
    expect(page.sent).toEqual([{ via: 'beacon', url: ENDPOINT, body: body({ url: 'https://blog.test/post', path: '/found' }) }]);
  });

  it('waits for the document to be parsed, so a canonical link further down counts', async () => {
    const page = await open({ loading: true });
    expect(page.sent).toEqual([]);
    const link = page.window.document.createElement('link');
    link.rel = 'canonical';
    link.href = 'https://blog.test/the/real/post';
    page.window.document.head.append(link);
    page.state.readyState = 'interactive';
    page.window.document.dispatchEvent(new page.window.Event('DOMContentLoaded'));
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/post', path: '/the/real/post' })]);
  });
});

describe('delivery', () => {
  const fetchInit = (b: string) => ({
    method: 'POST',
    body: b,
    keepalive: true,
    mode: 'no-cors',
    headers: { 'Content-Type': 'text/plain' },
  });

  it('falls back to fetch with keepalive when sendBeacon is missing', async () => {
    const page = await open({ beacon: 'missing' });
    const b = body({ url: 'https://blog.test/post' });
    expect(page.sent).toEqual([{ via: 'fetch', url: ENDPOINT, body: b, init: fetchInit(b) }]);
  });

  it('falls back to fetch when sendBeacon refuses the body', async () => {
    const page = await open({ beacon: 'refuse' });
    const b = body({ url: 'https://blog.test/post' });
    expect(page.sent).toEqual([
      { via: 'beacon', url: ENDPOINT, body: b },
      { via: 'fetch', url: ENDPOINT, body: b, init: fetchInit(b) },
    ]);
  });

  it('swallows a failed fetch: no error reaches the page', async () => {
    const page = await open({ beacon: 'missing', fetchFails: true });
    await tick(page.window);
    expect(page.sent).toHaveLength(1);
    expect(page.errors).toEqual([]);
  });
});

describe('path rules', () => {
  it('data-path overrides the path', async () => {
    const page = await open({ attrs: 'data-path="/fixed/name"', head: '<link rel="canonical" href="https://blog.test/canon">' });
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/post', path: '/fixed/name' })]);
  });

  it('a canonical link names the path; url keeps the utm parameters', async () => {
    const page = await open({
      url: 'https://blog.test/2026/11/post?utm_source=newsletter',
      head: '<link rel="canonical" href="https://www.blog.test/post">',
    });
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/2026/11/post?utm_source=newsletter', path: '/post' })]);
  });

  it('a relative canonical link is resolved against the page', async () => {
    const page = await open({ url: 'https://blog.test/a/b', head: '<link rel="alternate canonical" href="../c">' });
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/a/b', path: '/c' })]);
  });

  it('an unparsable canonical link is ignored', async () => {
    const page = await open({ head: '<link rel="canonical" href="http://[broken">' });
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/post' })]);
    expect(page.errors).toEqual([]);
  });

  it.each([
    ['https://blog.test/app/#/settings', '/app/settings'],
    ['https://blog.test/#/about', '/about'],
    ['https://blog.test/#about', '/about'],
    ['https://blog.test/docs#/guide/intro', '/docs/guide/intro'],
    ['https://blog.test/#/search?q=secret', '/search'],
    ['https://blog.test/app/', '/app/'],
    ['https://blog.test/app/#', '/app/'],
    ['https://blog.test/', '/'],
  ])('data-hash: %s counts as %s', async (url, path) => {
    const page = await open({ url, attrs: 'data-hash', head: '<link rel="canonical" href="https://blog.test/ignored">' });
    expect(page.bodies()).toEqual([body({ url: url.replace(/#.*/, ''), path })]);
  });
});

describe('single-page apps', () => {
  it('counts each pushState navigation to a new path once, the referrer only with the first view', async () => {
    const page = await open({ url: 'https://blog.test/', referrer: 'https://news.example/' });
    await navigate(page, (w) => w.history.pushState({}, '', '/docs'));
    await navigate(page, (w) => w.history.pushState({}, '', '/docs/install?utm_source=menu'));
    expect(page.bodies()).toEqual([
      body({ url: 'https://blog.test/', referrer: 'https://news.example/' }),
      body({ url: 'https://blog.test/docs' }),
      body({ url: 'https://blog.test/docs/install?utm_source=menu' }),
    ]);
  });

  it('does not count a change that keeps the path: state, query, fragment, trailing slash', async () => {
    const page = await open({ url: 'https://blog.test/docs' });
    await navigate(page, (w) => w.history.replaceState({ scroll: 100 }, ''));
    await navigate(page, (w) => w.history.pushState({}, '', '/docs?tab=2'));
    await navigate(page, (w) => w.history.replaceState({}, '', '/docs#install'));
    await navigate(page, (w) => w.history.pushState({}, '', '/docs/'));
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/docs' })]);
  });

  it('counts a back navigation (popstate) to another path', async () => {
    const page = await open({ url: 'https://blog.test/a' });
    await navigate(page, (w) => w.history.pushState({}, '', '/b'));
    await traverse(page, 'popstate', (w) => w.history.back());
    expect(page.window.location.pathname).toBe('/a');
    expect(page.bodies()).toEqual([
      body({ url: 'https://blog.test/a' }),
      body({ url: 'https://blog.test/b' }),
      body({ url: 'https://blog.test/a' }),
    ]);
  });

  it('counts only where a navigation ends when a router replaces the state in the same task', async () => {
    const page = await open({ url: 'https://blog.test/' });
    await navigate(page, (w) => {
      w.history.pushState({}, '', '/old-name');
      w.history.replaceState({}, '', '/new-name');
    });
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/' }), body({ url: 'https://blog.test/new-name' })]);
  });

  it('reads the canonical link the router set for the new page', async () => {
    const page = await open({ url: 'https://blog.test/p/1', head: '<link rel="canonical" href="/post-one">' });
    await navigate(page, (w) => {
      w.history.pushState({}, '', '/p/2');
      w.document.querySelector('link[rel=canonical]')?.setAttribute('href', '/post-two');
    });
    expect(page.bodies()).toEqual([
      body({ url: 'https://blog.test/p/1', path: '/post-one' }),
      body({ url: 'https://blog.test/p/2', path: '/post-two' }),
    ]);
  });

  it('with data-path, navigations keep the same path and do not count again', async () => {
    const page = await open({ attrs: 'data-path="/landing"' });
    await navigate(page, (w) => w.history.pushState({}, '', '/elsewhere'));
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/post', path: '/landing' })]);
  });

  it('still lets pushState and replaceState do their work', async () => {
    const page = await open({ url: 'https://blog.test/' });
    await navigate(page, (w) => w.history.pushState({ n: 1 }, '', '/x'));
    expect(page.window.location.pathname).toBe('/x');
    expect(page.window.history.state).toEqual({ n: 1 });
    expect(page.window.history.length).toBe(2);
  });

  it('without data-hash, a hash change is no new view', async () => {
    const page = await open({ url: 'https://blog.test/app/' });
    await traverse(page, 'hashchange', (w) => {
      w.location.hash = '#/settings';
    });
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/app/' })]);
  });

  it('with data-hash, each hash route counts once (hashchange)', async () => {
    const page = await open({ url: 'https://blog.test/app/#/', attrs: 'data-hash' });
    await traverse(page, 'hashchange', (w) => {
      w.location.hash = '#/settings';
    });
    await traverse(page, 'hashchange', (w) => {
      w.location.hash = '#/settings?tab=privacy';
    });
    await traverse(page, 'hashchange', (w) => {
      w.location.hash = '#/about';
    });
    expect(page.bodies()).toEqual([
      body({ url: 'https://blog.test/app/', path: '/app/' }),
      body({ url: 'https://blog.test/app/', path: '/app/settings' }),
      body({ url: 'https://blog.test/app/', path: '/app/about' }),
    ]);
  });

  it('with data-hash, hashchange alone counts a hash route', async () => {
    const page = await open({ url: 'https://blog.test/#/', attrs: 'data-hash', noPopstate: true });
    await traverse(page, 'hashchange', (w) => {
      w.location.hash = '#/pricing';
    });
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/', path: '/' }), body({ url: 'https://blog.test/', path: '/pricing' })]);
  });

  it('window.prawn.count() counts the current path by hand, even when already counted', async () => {
    const page = await open({ url: 'https://blog.test/docs', referrer: 'https://news.example/' });
    page.window.prawn?.count();
    expect(page.bodies()).toEqual([
      body({ url: 'https://blog.test/docs', referrer: 'https://news.example/' }),
      body({ url: 'https://blog.test/docs' }),
    ]);
  });

  it('window.prawn.count(path) counts that path; automatic counting is not affected', async () => {
    const page = await open({ url: 'https://blog.test/docs', attrs: 'data-hash' });
    page.window.prawn?.count('/docs/modal/signup');
    await navigate(page, (w) => w.history.replaceState({ scroll: 5 }, ''));
    expect(page.bodies()).toEqual([
      body({ url: 'https://blog.test/docs', path: '/docs' }),
      body({ url: 'https://blog.test/docs', path: '/docs/modal/signup' }),
    ]);
  });
});

describe('the back-forward cache', () => {
  it('a page restored from it counts again, once, without the referrer', async () => {
    const page = await open({ url: 'https://blog.test/a', referrer: 'https://news.example/' });
    const { window } = page;
    window.dispatchEvent(new window.PageTransitionEvent('pageshow', { persisted: false }));
    window.dispatchEvent(new window.PageTransitionEvent('pageshow', { persisted: true }));
    await navigate(page, (w) => w.history.replaceState({ scroll: 1 }, ''));
    expect(page.bodies()).toEqual([
      body({ url: 'https://blog.test/a', referrer: 'https://news.example/' }),
      body({ url: 'https://blog.test/a' }),
    ]);
  });
});

describe('prerendered and hidden pages', () => {
  it('a prerendered page counts when it is activated, once', async () => {
    const page = await open({ prerendering: true });
    await navigate(page, (w) => w.history.replaceState({}, '', '/post?hydrated=1'));
    expect(page.sent).toEqual([]);
    page.state.prerendering = false;
    page.window.document.dispatchEvent(new page.window.Event('prerenderingchange'));
    page.window.document.dispatchEvent(new page.window.Event('visibilitychange'));
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/post?hydrated=1' })]);
  });

  it('a page loaded hidden counts when it is first shown, once', async () => {
    const page = await open({ visibility: 'hidden', referrer: 'https://news.example/' });
    page.window.document.dispatchEvent(new page.window.Event('visibilitychange'));
    expect(page.sent).toEqual([]);
    const show = () => {
      page.state.visibility = 'visible';
      page.window.document.dispatchEvent(new page.window.Event('visibilitychange'));
    };
    show();
    page.state.visibility = 'hidden';
    page.window.document.dispatchEvent(new page.window.Event('visibilitychange'));
    show();
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/post', referrer: 'https://news.example/' })]);
  });

  it('a navigation while the page is hidden counts when it is shown again', async () => {
    const page = await open({ url: 'https://blog.test/a' });
    page.state.visibility = 'hidden';
    page.window.document.dispatchEvent(new page.window.Event('visibilitychange'));
    await navigate(page, (w) => w.history.pushState({}, '', '/b'));
    await navigate(page, (w) => w.history.pushState({}, '', '/c'));
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/a' })]);
    page.state.visibility = 'visible';
    page.window.document.dispatchEvent(new page.window.Event('visibilitychange'));
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/a' }), body({ url: 'https://blog.test/c' })]);
  });

  it('a count by hand on a hidden page waits until it is shown', async () => {
    const page = await open({ visibility: 'hidden' });
    page.window.prawn?.count('/by-hand');
    expect(page.sent).toEqual([]);
    page.state.visibility = 'visible';
    page.window.document.dispatchEvent(new page.window.Event('visibilitychange'));
    expect(page.bodies()).toEqual([body({ url: 'https://blog.test/post' }), body({ url: 'https://blog.test/post', path: '/by-hand' })]);
  });
});
