// prawn's tracker, served at /count.js. One line on any page counts its views:
//
//   <script async src="https://PRAWN-HOST/count.js"></script>
//
// It POSTs {url, path?, referrer?, bot?} as a text/plain JSON body (CORS-safelisted: no preflight
// from a foreign origin) to /api/views on the origin it was loaded from; the server applies the
// host, path and query rules. No cookies, no storage, no identifiers. Attributes on the tag:
// data-path="/x" fixes the path; data-hash counts hash routes (/#/about as /about). Otherwise a
// <link rel="canonical"> names the path. History navigations (pushState, replaceState, popstate)
// count once per new path, and so does a return from the back-forward cache; window.prawn.count(path?)
// counts by hand. A prerendered or hidden page counts when it is shown. See docs/embed.md.
//
// vite.tracker.ts builds this file alone into one minified IIFE (dist/app/count.js); it must stay
// free of imports and within 1 KB gzipped.

/** What the script sends: the body of POST /api/views. */
interface View {
  url: string;
  path?: string;
  referrer?: string;
  bot?: boolean;
}

declare global {
  interface Window {
    /** Set by /count.js: count(path?) records a view by hand (default: the current path). */
    prawn?: { count(path?: string): void };
  }
  interface Document {
    /** Speculation Rules prerendering (not yet in TypeScript's DOM library). */
    readonly prerendering?: boolean;
  }
}

const d = document;
const loc = location;
const nav = navigator;
// The tag that loaded this script; the fallback finds it when a loader ran the code without one.
const script = (d.currentScript || d.querySelector('script[src*="/count.js"]')) as HTMLScriptElement | null;

if (script && script.src && !window.prawn) {
  const endpoint = new URL(script.src).origin + '/api/views';
  const fixedPath = script.getAttribute('data-path');
  const hashRoutes = script.hasAttribute('data-hash');
  // The referrer belongs to the view that opened the page, not to later in-page navigations.
  let referrer = d.referrer;
  // The path (without a trailing slash) that the last automatic count was for.
  let counted: string | undefined;
  // Counts waiting for a prerendered or hidden page to be shown.
  const waiting: (() => void)[] = [];

  const hidden = () => d.prerendering || d.visibilityState == 'hidden';

  // path is the path to send, or undefined to let the server take it from the URL.
  const path = (): string | undefined => {
    if (fixedPath) return fixedPath;
    if (hashRoutes) {
      const route = loc.hash.replace(/^#\/?/, '').replace(/\?.*/, '');
      return route ? loc.pathname.replace(/\/$/, '') + '/' + route : loc.pathname;
    }
    const canonical = d.querySelector<HTMLLinkElement>('link[rel~=canonical]');
    if (canonical) {
      try {
        return new URL(canonical.href).pathname;
      } catch {
        // An unparsable canonical link names no path.
      }
    }
  };

  const send = (p?: string) => {
    // The fragment is never needed and may hold secrets (tokens); the query keeps utm_*.
    const view: View = { url: loc.href.replace(/#.*/, '') };
    if (p) view.path = p;
    if (referrer) view.referrer = referrer;
    referrer = '';
    if (nav.webdriver) view.bot = true;
    const body = JSON.stringify(view);
    if (!(nav.sendBeacon && nav.sendBeacon(endpoint, body))) {
      fetch(endpoint, {
        method: 'POST',
        body,
        keepalive: true,
        mode: 'no-cors',
        headers: { 'Content-Type': 'text/plain' },
      }).catch(() => {});
    }
  };

  const whenShown = (f: () => void) => {
    if (hidden()) waiting.push(f);
    else f();
  };

  const shown = () => {
    if (!hidden()) waiting.splice(0).forEach((f) => f());
  };

  // auto counts the current path unless it is the one counted last.
  const auto = () =>
    whenShown(() => {
      const p = path();
      const key = (p || loc.pathname).replace(/\/$/, '');
      if (key != counted) {
        counted = key;
        send(p);
      }
    });

  // After a navigation, count once the task is done: a router updates the canonical link and
  // may replace the state again right after pushing it.
  const later = () => setTimeout(auto);

  for (const method of ['pushState', 'replaceState'] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
      original.apply(this, args);
      later();
    };
  }
  addEventListener('popstate', later);
  if (hashRoutes) addEventListener('hashchange', later);
  d.addEventListener('visibilitychange', shown);
  d.addEventListener('prerenderingchange', shown);
  // Back to this page from the back-forward cache: a new view, as a fresh load would be.
  addEventListener('pageshow', (e) => {
    if (e.persisted) {
      counted = undefined;
      auto();
    }
  });

  window.prawn = { count: (p) => whenShown(() => send(p || path())) };

  // A canonical link after this tag is parsed only later.
  if (d.readyState == 'loading') d.addEventListener('DOMContentLoaded', auto);
  else auto();
}

export {};
