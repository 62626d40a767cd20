// What the end-to-end test records, and what prawn must then show: a small model of the
// counting rules (docs/rollups.md#visitors) over the views the test sent. Visitors are counted
// per (UTC day, host, client address, User-Agent); every view here comes from 127.0.0.1, so a
// visitor is a (host, User-Agent, day). A breakdown counts a visitor-day under the value of its
// first view in the scope (the host, or the host and path), and every site's visitors are the
// sum over hosts.

/** Real browsers' User-Agents (what internal/useragent makes of them is tested in Go). */
export const UA = {
  chromeWin: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36',
  firefoxLinux: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0',
  safariIPhone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Mobile/15E148 Safari/604.1',
  chromeAndroid: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Mobile Safari/537.36',
};

/** The browser, system and device of each User-Agent (the e2e browser's own is added by the test). */
export const CLIENTS = new Map([
  [UA.chromeWin, { browser: 'Chrome', os: 'Windows', device: 'desktop' }],
  [UA.firefoxLinux, { browser: 'Firefox', os: 'Linux', device: 'desktop' }],
  [UA.safariIPhone, { browser: 'Safari', os: 'iOS', device: 'mobile' }],
  [UA.chromeAndroid, { browser: 'Chrome', os: 'Android', device: 'mobile' }],
]);

const NEWS = 'https://news.example/item?id=';
const ref = (n) => `${NEWS}${n}`;
const times = (n, v) => Array.from({ length: n }, () => ({ ...v }));

/**
 * The views recorded before the rollup. The default site (no host) keeps the paths the test
 * always had (/blog/hello 5, /about 3, /docs/getting-started 2); two more sites come from page URLs
 * with referrers and a campaign.
 */
export const SEED = [
  ...times(3, { path: '/blog/hello', ua: UA.chromeWin }).map((v, i) => (i < 2 ? { ...v, referrer: ref(1) } : v)),
  ...times(2, { path: '/blog/hello', ua: UA.firefoxLinux }),
  ...times(3, { path: '/about', ua: UA.chromeWin }),
  ...times(2, { path: '/docs/getting-started', ua: UA.firefoxLinux, referrer: 'https://www.google.com/' }),
  ...times(3, { url: 'https://blog.example.com/post-a?utm_source=newsletter&utm_medium=email&utm_campaign=launch', ua: UA.safariIPhone, referrer: ref(2) }),
  { url: 'https://blog.example.com/post-a', ua: UA.firefoxLinux, referrer: 'https://www.google.com/search?q=prawn' },
  ...times(2, { url: 'https://blog.example.com/post-b', ua: UA.safariIPhone }),
  ...times(3, { url: 'https://docs.example.org/guide', ua: UA.chromeAndroid, referrer: 'https://github.com/prawnhq/prawn' }),
];

/** The views recorded after the rollup: counted from the raw rows. */
export const TAIL = [
  ...times(2, { path: '/blog/hello', ua: UA.chromeWin }),
  { url: 'https://blog.example.com/post-a', ua: UA.chromeWin, referrer: ref(3) },
];

/** The body of POST /api/views for a seeded view. */
export function body(v) {
  const b = v.url ? { url: v.url } : { path: v.path };
  if (v.referrer) b.referrer = v.referrer;
  return b;
}

/** The dimension values of a recorded view, by the server's rules (internal/pageview). */
function values(v) {
  const u = v.url ? new URL(v.url) : undefined;
  const r = v.referrer ? new URL(v.referrer) : undefined;
  const host = u ? u.hostname : '';
  const kept = r && r.hostname !== host ? r : undefined; // a referrer from the page's own host is dropped
  const c = CLIENTS.get(v.ua) ?? { browser: '', os: '', device: '' };
  return {
    host,
    path: u ? u.pathname : v.path,
    referrer_host: kept ? kept.hostname : '',
    referrer: kept ? `${kept.protocol}//${kept.host}${kept.pathname}` : '',
    utm_source: u?.searchParams.get('utm_source') ?? '',
    utm_medium: u?.searchParams.get('utm_medium') ?? '',
    utm_campaign: u?.searchParams.get('utm_campaign') ?? '',
    browser: c.browser,
    os: c.os,
    device: c.device,
    country: '', // no trusted country header in the test
  };
}

const CLIENT_DIMS = new Set(['browser', 'os', 'device']);

/** The views as prawn recorded them, in the order they were committed. */
export class Model {
  rows = [];
  /** Whether the server gives views a visitor id; without one a view counts no visitor. */
  countsVisitors = true;
  /** Whether the server names the browser, system and device of a view. */
  knowsClients = true;

  /** Adds a committed view; `day` is the UTC day it was recorded on (YYYY-MM-DD). */
  add(v, day) {
    this.rows.push({ ...values(v), ua: v.ua, day });
  }

  #scope(host, path) {
    return this.rows.filter((r) => (host === null || r.host === host) && (path === null || r.path === path));
  }

  #visitors(rows, key) {
    return this.countsVisitors ? new Set(rows.map(key)).size : 0;
  }

  /** All-time views and visitor-days of a site (null: every site). */
  totals(host = null) {
    const rows = this.#scope(host, null);
    return { views: rows.length, visitors: this.#visitors(rows, (r) => `${r.host}\n${r.ua}\n${r.day}`) };
  }

  /** Views and visitor-days of one page. */
  page(host, path) {
    const rows = this.#scope(host, path);
    return { views: rows.length, visitors: this.#visitors(rows, (r) => `${r.ua}\n${r.day}`) };
  }

  /** The sites by views, as GET /api/hosts lists them. */
  hosts() {
    return [...new Set(this.rows.map((r) => r.host))].map((host) => ({ host, ...this.totals(host) }));
  }

  /**
   * A breakdown: a Map of value ("" for none) to views and visitors. A visitor-day counts under
   * the value of its first view in the scope (its host, or its host and `path`).
   */
  breakdown(by, host, path) {
    const out = new Map();
    const seen = new Set();
    for (const r of this.#scope(host, path)) {
      const value = CLIENT_DIMS.has(by) && !this.knowsClients ? '' : r[by];
      const c = out.get(value) ?? { views: 0, visitors: 0 };
      c.views++;
      const key = `${r.host}\n${path === null ? '' : r.path}\n${r.ua}\n${r.day}`;
      if (this.countsVisitors && !seen.has(key)) {
        seen.add(key);
        c.visitors++;
      }
      out.set(value, c);
    }
    return out;
  }
}

/** How the page labels a value, and views without one (frontend/src/lib/breakdown.ts). */
export function label(by, value) {
  if (value === '') {
    if (by === 'referrer_host' || by === 'referrer') return 'Direct or unknown';
    if (by.startsWith('utm_')) return 'No campaign';
    return 'Unknown';
  }
  if (by === 'device') return value.charAt(0).toUpperCase() + value.slice(1);
  return value;
}

/** The rows a card must show for a breakdown, as [label, views, visitors] sorted by label (no value last). */
export function expectedRows(by, counts) {
  const rows = [...counts].filter(([v]) => v !== '').map(([v, c]) => [label(by, v), c.views, c.visitors]);
  rows.sort((a, b) => a[0].localeCompare(b[0]));
  const none = counts.get('');
  if (none && none.views > 0) rows.push([label(by, ''), none.views, none.visitors]);
  return rows;
}
