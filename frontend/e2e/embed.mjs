// End-to-end test of prawn embedded in another site's pages, in a real browser (Debian's
// Chromium driven by playwright-core). It builds and starts the real `prawn serve`, and a second
// local server for a third-party site, http://blog.test:PORT/ (Chromium resolves blog.test to
// 127.0.0.1), whose pages carry the one-line snippet `<script async src=…/count.js>`, the
// noscript pixel and badges, all loaded from prawn's origin. It checks, through prawn's API, that
// a load, two pushState navigations, a reload and a back-navigation give exactly the expected
// views of that host's paths; that the noscript pixel counts with JavaScript off; that a badge
// renders and shows the count, a recording badge counts each showing, and a bad one is an image
// too; and that a host not in PRAWN_SITES is not counted.
//
// Database: a fresh database on TEST_DATABASE_URL or DATABASE_URL when one is set (created and
// dropped with psql), else prawn's embedded Postgres in a temp folder. PRAWN_BIN=path skips
// `go build`. Screenshots go to frontend/test-results/ (git-ignored). Bounded: everything stops
// after DEADLINE_MS; exits non-zero on any failure.

import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHTTPServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const FRONTEND = resolve(here, '..');
const ROOT = resolve(FRONTEND, '..');
const RESULTS = join(FRONTEND, 'test-results');
const DEADLINE_MS = 180_000;
const SITE = 'blog.test'; // the third-party site, in PRAWN_SITES
const FOREIGN = 'evil.test'; // another site carrying the same snippet, not in PRAWN_SITES

let server; // the prawn serve child process
let site; // the third-party site's http.Server
let browser;
let tmp;
let dropDatabase;
const started = Date.now();
let checks = 0;

function log(...args) {
  console.log(`[embed ${((Date.now() - started) / 1000).toFixed(1)}s]`, ...args);
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  checks++;
  log('ok -', what);
}

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function waitFor(what, fn, timeoutMs = 20_000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  let lastValue;
  while (Date.now() < end) {
    try {
      lastValue = await fn();
      if (lastValue) return lastValue;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

async function setUpDatabase(env) {
  const base = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  if (!base) {
    const dataDir = join(tmp, 'data');
    await mkdir(dataDir);
    await chmod(dataDir, 0o755);
    delete env.DATABASE_URL;
    env.PRAWN_DATA_DIR = dataDir;
    log('database: embedded Postgres in', dataDir);
    return;
  }
  const name = `prawn_embed_${process.pid}_${Date.now().toString(36)}`;
  await run('psql', [base, '-v', 'ON_ERROR_STOP=1', '-qc', `CREATE DATABASE ${name}`]);
  const url = new URL(base);
  url.pathname = `/${name}`;
  env.DATABASE_URL = url.toString();
  dropDatabase = () => run('psql', [base, '-qc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]);
  log('database: fresh database', name, 'on', url.host);
}

async function startPrawn(bin, env, baseURL) {
  const logPath = join(tmp, 'serve.log');
  const out = createWriteStream(logPath);
  server = spawn(bin, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.pipe(out);
  server.stderr.pipe(out);
  server.exited = new Promise((res) => server.on('exit', (code, signal) => res({ code, signal })));
  server.logPath = logPath;
  await waitFor('prawn serve to be ready', async () => {
    if (server.exitCode !== null) throw new Error(`prawn serve exited with ${server.exitCode}`);
    return (await fetch(`${baseURL}/readyz`)).ok;
  }, 90_000, 250);
}

async function stopPrawn() {
  if (!server || server.exitCode !== null) return;
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 20_000);
  const { code, signal } = await server.exited;
  clearTimeout(timer);
  log('prawn serve stopped:', signal ? `signal ${signal}` : `exit ${code}`);
  return code;
}

// thirdPartySite serves the site's pages: every path is the same single-page app (the snippet in
// its head, the noscript pixel of the path it was served for, a badge of its home page), except
// /readme, a page showing a recording badge and a badge with a bad parameter, as a README would.
function thirdPartySite(prawn) {
  const app = (path) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A blog</title>
<script async src="${prawn}/count.js"></script>
</head><body>
<h1>A blog</h1>
<noscript><img id="pixel" src="${prawn}/api/views.gif?path=${encodeURIComponent(path)}" alt=""></noscript>
<p><img id="badge" src="${prawn}/api/badge.svg?host=${SITE}&amp;path=/&amp;label=home" alt="views of the home page"></p>
</body></html>`;
  const readme = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>README</title></head><body>
<h1>my-project</h1>
<p><img id="badge" src="${prawn}/api/badge.svg?host=${SITE}&amp;path=/readme&amp;record=true" alt="views"></p>
<p><img id="bad" src="${prawn}/api/badge.svg?host=${SITE}&amp;path=/readme&amp;style=plastic" alt="a bad badge"></p>
</body></html>`;
  return createHTTPServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' });
    res.end(path === '/readme' ? readme : app(path));
  });
}

async function main() {
  tmp = await mkdtemp(join(tmpdir(), 'prawn-embed-'));
  await chmod(tmp, 0o755); // the embedded Postgres runs as an unprivileged user and must get in
  await mkdir(RESULTS, { recursive: true });

  let bin = process.env.PRAWN_BIN;
  if (!bin) {
    bin = join(tmp, 'prawn');
    log('go build ./cmd/prawn');
    await run('go', ['build', '-o', bin, './cmd/prawn'], { cwd: ROOT, timeout: 180_000 });
  }
  const port = await freePort();
  const prawn = `http://127.0.0.1:${port}`;
  const env = { ...process.env, PRAWN_ADDR: `127.0.0.1:${port}`, PRAWN_ROLLUP_INTERVAL: '0', PRAWN_SITES: SITE, TMPDIR: tmp };
  await setUpDatabase(env);
  await startPrawn(bin, env, prawn);
  log('prawn serve is ready at', prawn, 'with PRAWN_SITES =', SITE);

  const sitePort = await freePort();
  site = thirdPartySite(prawn);
  await new Promise((res) => site.listen(sitePort, '127.0.0.1', res));
  const origin = `http://${SITE}:${sitePort}`;
  log('the third-party site is at', origin);

  const api = async (path) => {
    const r = await fetch(prawn + path);
    if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  // The views of the site's paths, read back through the API.
  const counts = async () => {
    const { pages } = await api(`/api/pages?host=${SITE}&limit=100`);
    return Object.fromEntries(pages.map((p) => [p.path, p.views]));
  };
  const same = (a, b) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
  const expectCounts = async (want, what) => {
    let got;
    await waitFor(`${what}: ${JSON.stringify(want)}`, async () => same((got = await counts()), want)).catch((e) => {
      throw new Error(`${e.message}; last read ${JSON.stringify(got)}`);
    });
    check(true, `${what}: ${JSON.stringify(want)}`);
  };

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-blink-features=AutomationControlled',
      `--host-resolver-rules=MAP ${SITE} 127.0.0.1, MAP ${FOREIGN} 127.0.0.1`],
    timeout: 60_000,
  });
  // A visitor's browser: not "HeadlessChrome", and not driven by automation (navigator.webdriver).
  const userAgent = `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${browser.version()} Safari/537.36`;
  const context = await browser.newContext({ userAgent });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  const beacons = [];
  page.on('request', (r) => r.url() === `${prawn}/api/views` && beacons.push({ body: JSON.parse(r.postData()), type: r.headers()['content-type'] }));

  // A visit from a link on another site, then two routes of the app.
  await page.goto(`${origin}/`, { referer: 'http://news.example/item?id=7' });
  check((await page.evaluate(() => navigator.webdriver)) === false, 'the browser is not marked as driven by automation');
  await expectCounts({ '/': 1 }, 'the page load counts its path once');
  await page.evaluate(() => history.pushState({}, '', '/a'));
  await page.evaluate(() => history.pushState({}, '', '/b#section'));
  await expectCounts({ '/': 1, '/a': 1, '/b': 1 }, 'two pushState navigations count one view each');
  check(beacons.length === 3 && beacons.every((b) => /^text\/plain/.test(b.type)), `the tracker sent 3 text/plain beacons (${beacons.map((b) => b.type)})`);
  check(beacons[0].body.referrer?.startsWith('http://news.example/') && beacons.slice(1).every((b) => !('referrer' in b.body)),
    'only the first view of the page load carries the referrer');
  check(beacons[2].body.url === `${origin}/b` && !beacons.some((b) => b.body.url.includes('#')), `the URL is sent without its fragment (${beacons[2].body.url})`);
  const refs = await api(`/api/breakdown?by=referrer_host&host=${SITE}`);
  check(refs.values.length === 1 && refs.values[0].value === 'news.example' && refs.values[0].views === 1,
    `one view from news.example is stored, its query dropped (${JSON.stringify(refs.values)})`);

  await page.reload();
  await expectCounts({ '/': 1, '/a': 1, '/b': 2 }, 'a reload counts the page again');
  await page.goBack();
  check(new URL(page.url()).pathname === '/a', `back-navigation is at /a (${page.url()})`);
  await expectCounts({ '/': 1, '/a': 2, '/b': 2 }, 'a back-navigation counts the page it shows');

  // The badge on the page renders.
  const badge = page.locator('#badge');
  await waitFor('the badge to load', () => badge.evaluate((img) => img.complete && img.naturalWidth > 0));
  check(true, `the badge <img> renders (${await badge.evaluate((img) => `${img.naturalWidth}×${img.naturalHeight}`)})`);
  await page.screenshot({ path: join(RESULTS, 'embed-page.png') });

  // Without JavaScript: the noscript pixel counts the page, and nothing else does.
  const noJS = await browser.newContext({ userAgent, javaScriptEnabled: false });
  const plain = await noJS.newPage();
  const pixel = plain.waitForResponse((r) => r.url().startsWith(`${prawn}/api/views.gif`));
  await plain.goto(`${origin}/b`);
  const pixelResponse = await pixel;
  check(pixelResponse.status() === 200 && pixelResponse.headers()['content-type'] === 'image/gif' && pixelResponse.headers()['cache-control'] === 'no-store',
    'with JavaScript off the noscript pixel loads: a GIF, no-store');
  check(await plain.locator('#pixel').evaluate((img) => img.naturalWidth === 1 && img.naturalHeight === 1), 'the pixel is 1×1');
  await expectCounts({ '/': 1, '/a': 2, '/b': 3 }, 'the noscript pixel counts the page (its host from the Referer)');
  await noJS.close();

  // A README's recording badge: each showing counts, and the badge shows the count with it.
  const readme = await context.newPage();
  const badges = [];
  readme.on('response', async (r) => {
    if (r.url().includes('/api/badge.svg')) badges.push({ url: r.url(), status: r.status(), headers: r.headers(), body: await r.text() });
  });
  for (const n of [1, 2]) {
    badges.length = 0;
    await readme.goto(`${origin}/readme`);
    for (const id of ['#badge', '#bad']) {
      await waitFor(`${id} to load`, () => readme.locator(id).evaluate((img) => img.complete && img.naturalWidth > 0));
    }
    await waitFor('both badge answers', () => badges.length === 2);
    const good = badges.find((b) => b.url.includes('record=true'));
    const bad = badges.find((b) => b.url.includes('style=plastic'));
    const label = good.body.match(/aria-label="([^"]*)"/)?.[1];
    check(good.status === 200 && good.headers['cache-control'] === 'no-cache' && label === `views: ${n}`,
      `showing ${n} of the recording badge: 200, no-cache, "${label}", rendered ${await readme.locator('#badge').evaluate((i) => i.naturalWidth)} px wide`);
    check(bad.status === 400 && bad.headers['content-type'] === 'image/svg+xml' && /prawn: invalid: invalid badge: style &quot;plastic&quot;/.test(bad.body),
      'a bad parameter gives an error badge (400, an SVG that renders) saying what is wrong');
  }
  await readme.screenshot({ path: join(RESULTS, 'embed-readme.png') });
  await expectCounts({ '/': 1, '/a': 2, '/b': 3, '/readme': 2 }, 'the recording badge counted its two showings');

  // The same snippet on a site prawn does not count for: answered, never stored.
  const foreign = await context.newPage();
  const sent = foreign.waitForRequest(`${prawn}/api/views`);
  await foreign.goto(`http://${FOREIGN}:${sitePort}/`);
  await sent;
  const stats = await waitFor('the foreign view to be tallied', async () => {
    const s = await api('/api/stats');
    return s.dropped.foreignHost === 1 && s;
  });
  const hosts = (await api('/api/hosts')).hosts.map((h) => h.host);
  check(!hosts.includes(FOREIGN) && stats.total === 8, `a view of ${FOREIGN} is tallied as foreignHost and not stored (hosts ${JSON.stringify(hosts)}, total ${stats.total})`);

  // Exactly those counts, still (no late or duplicate beacon); one visitor; a Chrome browser.
  await new Promise((r) => setTimeout(r, 1000));
  check(same(await counts(), { '/': 1, '/a': 2, '/b': 3, '/readme': 2 }), 'a second later the counts are the same');
  const siteStats = await api(`/api/stats?host=${SITE}`);
  check(siteStats.total === 8 && siteStats.totalVisitors === 1, `one visitor made the site's 8 views (${siteStats.totalVisitors})`);
  const browsers = await api(`/api/breakdown?by=browser&host=${SITE}`);
  check(browsers.values.length === 1 && browsers.values[0].value === 'Chrome' && browsers.values[0].views === 8, `the views are from Chrome (${JSON.stringify(browsers.values)})`);
  check(problems.length === 0, `no page errors or failed requests${problems.length ? ':\n  ' + problems.join('\n  ') : ''}`);
}

async function cleanUp() {
  await browser?.close().catch(() => {});
  await new Promise((r) => (site ? site.close(r) : r()));
  const code = await stopPrawn().catch(() => undefined);
  if (dropDatabase) await dropDatabase().catch((e) => log('could not drop the database:', e.message));
  if (tmp) await rm(tmp, { recursive: true, force: true }).catch((e) => log('could not remove', tmp, e.message));
  return code;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    console.error(`[embed] FAILED: ${sig} received`);
    await cleanUp();
    console.log(`embed: ${checks} passed, 1 failed`);
    process.exit(1);
  });
}
process.stdout.on('error', () => {});

const deadline = setTimeout(async () => {
  console.error(`[embed] FAILED: no result after ${DEADLINE_MS / 1000} s`);
  await cleanUp();
  process.exit(1);
}, DEADLINE_MS);

try {
  await main();
  clearTimeout(deadline);
  const code = await cleanUp();
  if (code !== 0 && code !== undefined) throw new Error(`prawn serve exited with ${code} after SIGTERM`);
  console.log(`embed: ${checks} passed, 0 failed`);
  process.exit(0);
} catch (err) {
  clearTimeout(deadline);
  console.error('[embed] FAILED:', err.message);
  if (server?.logPath) {
    const logText = await readFile(server.logPath, 'utf8').catch(() => '');
    console.error('--- prawn serve log (last 40 lines) ---\n' + logText.split('\n').slice(-40).join('\n'));
  }
  await cleanUp();
  console.log(`embed: ${checks} passed, 1 failed`);
  process.exit(1);
}
