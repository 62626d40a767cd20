// End-to-end test of prawn's page in a real browser (Debian's Chromium driven by
// playwright-core). It builds and starts the real `prawn serve`, seeds views of three sites
// through the API (with distinct User-Agents, referrers and a campaign), runs `prawn rollup`,
// records a tail, and checks what a visitor sees against a model of the counting rules
// (e2e/model.mjs): the headline's views and visitors, the chart's two series, the site picker
// and its URL state, the top pages and the breakdown cards with filtering, and the snippets.
//
// Database: a fresh database on TEST_DATABASE_URL or DATABASE_URL when one is
// set (created and dropped with psql), else prawn's embedded Postgres in a temp
// folder. PRAWN_BIN=path skips `go build` and tests that binary instead.
// Artefacts (screenshots, timings) go to frontend/test-results/ (git-ignored).
// Bounded: everything stops after DEADLINE_MS; exits non-zero on any failure.

import { execFile, spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, chmod, writeFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { body, CLIENTS, expectedRows, Model, SEED, TAIL } from './model.mjs';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const FRONTEND = resolve(here, '..');
const ROOT = resolve(FRONTEND, '..');
const RESULTS = join(FRONTEND, 'test-results');
const DEADLINE_MS = 240_000;
// Not the machine's zone, to prove the page uses the browser's. Chromium's ICU may
// call it by its older name, Asia/Calcutta.
const BROWSER_TZ = 'Asia/Kolkata';
/** Every committed view the test caused, for the expected numbers. */
const model = new Model();
const utcDay = () => new Date().toISOString().slice(0, 10);

let server; // the prawn serve child process
let browser;
let shownPage; // the page under test, for what it showed when a check failed
let tmp;
let dropDatabase; // async () => void when we created a database
const started = Date.now();
let checks = 0;

function log(...args) {
  console.log(`[e2e ${((Date.now() - started) / 1000).toFixed(1)}s]`, ...args);
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

async function waitFor(what, fn, timeoutMs = 60_000, everyMs = 250) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
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
  const name = `prawn_e2e_${process.pid}_${Date.now().toString(36)}`;
  await run('psql', [base, '-v', 'ON_ERROR_STOP=1', '-qc', `CREATE DATABASE ${name}`]);
  const url = new URL(base);
  url.pathname = `/${name}`;
  env.DATABASE_URL = url.toString();
  dropDatabase = () => run('psql', [base, '-qc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]);
  log('database: fresh database', name, 'on', url.host);
}

async function startServer(bin, env, baseURL) {
  const logPath = join(tmp, 'serve.log');
  const { createWriteStream } = await import('node:fs');
  const out = createWriteStream(logPath);
  server = spawn(bin, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.pipe(out);
  server.stderr.pipe(out);
  server.exited = new Promise((res) => server.on('exit', (code, signal) => res({ code, signal })));
  server.logPath = logPath;
  await waitFor('prawn serve to be ready', async () => {
    if (server.exitCode !== null) throw new Error(`prawn serve exited with ${server.exitCode}`);
    const r = await fetch(`${baseURL}/readyz`);
    return r.ok;
  }, 90_000);
}

async function stopServer() {
  if (!server || server.exitCode !== null) return;
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 20_000);
  const { code, signal } = await server.exited;
  clearTimeout(timer);
  log('prawn serve stopped:', signal ? `signal ${signal}` : `exit ${code}`);
  return code;
}

/** Records a seeded view (e2e/model.mjs) as its browser would, and adds it to the model. */
async function post(baseURL, v) {
  for (let attempt = 0; ; attempt++) {
    const r = await fetch(`${baseURL}/api/views`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'User-Agent': v.ua },
      body: JSON.stringify(body(v)),
    });
    if (r.status === 201) {
      const got = await r.json();
      if (!got.counted) throw new Error(`POST /api/views ${JSON.stringify(body(v))}: not counted (${got.reason})`);
      model.add(v, utcDay());
      return;
    }
    if (r.status === 429 && attempt < 5) {
      // Recording is rate limited per client: wait as told (bounded), then retry.
      const wait = Math.min(Number(r.headers.get('retry-after')) || 1, 10);
      log(`POST /api/views: 429, retrying in ${wait} s`);
      await new Promise((res) => setTimeout(res, wait * 1000));
      continue;
    }
    throw new Error(`POST /api/views ${JSON.stringify(body(v))}: ${r.status} ${await r.text()}`);
  }
}

const num = (text) => Number(String(text).replaceAll(',', ''));

/** The rows of a count table as [label, views, visitors, kind]. */
async function tableRows(locator) {
  return locator.locator('tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [
      tr.querySelector('.value, .path')?.textContent ?? '',
      Number(tr.querySelector('.views')?.textContent.replaceAll(',', '')),
      Number(tr.querySelector('.visitors')?.textContent.replaceAll(',', '')),
      tr.getAttribute('data-kind'),
    ]),
  );
}

/** A card's rows in the model's order: values by label, then the views without a value. */
function comparable(rows) {
  const values = rows.filter((r) => r[3] === 'value').map((r) => r.slice(0, 3));
  values.sort((a, b) => a[0].localeCompare(b[0]));
  return [...values, ...rows.filter((r) => r[3] !== 'value').map((r) => r.slice(0, 3))];
}

async function main() {
  tmp = await mkdtemp(join(tmpdir(), 'prawn-e2e-'));
  await chmod(tmp, 0o755); // the embedded Postgres runs as an unprivileged user and must get in
  await mkdir(RESULTS, { recursive: true });

  let bin = process.env.PRAWN_BIN;
  if (!bin) {
    bin = join(tmp, 'prawn');
    log('go build ./cmd/prawn');
    await run('go', ['build', '-o', bin, './cmd/prawn'], { cwd: ROOT, timeout: 180_000 });
  }

  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const env = { ...process.env, PRAWN_ADDR: `127.0.0.1:${port}`, PRAWN_ROLLUP_INTERVAL: '0', TMPDIR: tmp };
  await setUpDatabase(env);
  await startServer(bin, env, baseURL);
  log('prawn serve is ready at', baseURL);

  // The page is the real build, not the placeholder, and is cached as designed.
  const index = await fetch(baseURL + '/');
  const html = await index.text();
  check(index.headers.get('cache-control') === 'no-cache', 'index.html is served with Cache-Control: no-cache');
  check(!html.includes('was not built'), 'the binary embeds the built page, not the placeholder');
  const asset = html.match(/\/assets\/index-[\w-]+\.js/)?.[0];
  const assetRes = await fetch(baseURL + asset);
  check(assetRes.ok && assetRes.headers.get('cache-control') === 'public, max-age=31536000, immutable', `${asset} is immutable`);

  // Seed: views, a rollup, then a tail of views the rollup has not seen.
  for (const v of SEED) await post(baseURL, v);
  const rolled = await run(bin, ['rollup'], { env, timeout: 60_000 });
  log('prawn rollup:', rolled.stdout.trim());
  for (const v of TAIL) await post(baseURL, v);
  const seeded = model.rows.length;

  // The server records a visitor id and the client's names with every view: the model counts
  // them, and every check below holds the page to it.
  model.countsVisitors = true;
  model.knowsClients = true;

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 60_000,
  });
  // A visitor's browser, not "HeadlessChrome": the server does not count views from bots.
  const userAgent = `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${browser.version()} Safari/537.36`;
  CLIENTS.set(userAgent, { browser: 'Chrome', os: 'Linux', device: 'desktop' });
  const context = await browser.newContext({ userAgent, timezoneId: BROWSER_TZ, locale: 'en-GB', viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  shownPage = page;
  page.setDefaultTimeout(20_000);
  // Is the badge served? The server side lands in its own branch; until then the preview's
  // image is a 404, which Chromium logs as a console error (excused for that URL alone).
  const badgeProbe = await fetch(`${baseURL}/api/badge.svg?path=/README`);
  const badgeServed = badgeProbe.ok && (badgeProbe.headers.get('content-type') ?? '').startsWith('image/svg+xml');
  await badgeProbe.body?.cancel();
  log(badgeServed ? 'GET /api/badge.svg is served: the preview must render' : 'GET /api/badge.svg is not served by this build: checking the preview markup only');
  const problems = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (!badgeServed && (m.location()?.url ?? '').startsWith(`${baseURL}/api/badge.svg`)) return;
    problems.push(`console: ${m.text()} (${m.location()?.url ?? ''})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // The page aborts a request a newer range superseded (ERR_ABORTED): by design, not a failure.
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText ?? '';
    if (!why.includes('ERR_ABORTED')) problems.push(`request failed: ${r.url()} ${why}`);
  });
  const statsRequests = [];
  const breakdownRequests = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/stats')) statsRequests.push(new URL(r.url()));
    if (r.url().includes('/api/breakdown')) breakdownRequests.push(new URL(r.url()));
  });
  const apiAnswers = []; // [status, url] of every API answer the page got
  page.on('response', (r) => r.url().includes('/api/') && apiAnswers.push([r.status(), r.url()]));

  // Every load of the page records a view of / on the default site with this browser's User-Agent.
  const visit = async (p, load) => {
    const home = p.waitForResponse((r) => r.url().endsWith('/api/home'));
    await load();
    const answer = await (await home).json();
    if (answer.counted) model.add({ path: '/', ua: userAgent }, utcDay());
    return answer;
  };

  // First visit: the counter.
  await visit(page, () => page.goto(baseURL + '/'));
  const counter = page.getByTestId('page-views');
  const readCount = async () => {
    const text = await counter.textContent();
    return /^[\d,]+$/.test(text ?? '') ? num(text) : 0;
  };
  const first = await waitFor('the counter', readCount, 20_000);
  check(first === seeded + 1, `the headline counts the seeded views and this visit (${first})`);

  // The chart shows the seeded views and this visit's view of / (the page asks for
  // the numbers once its view is committed).
  const chart = page.getByTestId('chart');
  await chart.locator('canvas').waitFor();
  const chartTotal = Number(await chart.getAttribute('data-total'));
  check(chartTotal === first, `the chart holds the seeded views and this visit (${chartTotal} = ${seeded} + 1)`);
  check(num(await page.getByTestId('all-time').textContent()) === first, 'the all-time total agrees with the headline');
  check(Number(await chart.getAttribute('data-points')) === 24, 'the 24 h chart has 24 hourly buckets');
  const firstChartMs = await page.evaluate(() => performance.getEntriesByName('prawn:first-chart')[0]?.startTime);
  const navTiming = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const api = (p) => performance.getEntriesByType('resource').find((r) => r.name.includes(p));
    return {
      domContentLoadedMs: Math.round(nav.domContentLoadedEventEnd),
      homeResponseEndMs: Math.round(api('/api/home')?.responseEnd ?? -1),
      statsResponseEndMs: Math.round(api('/api/stats')?.responseEnd ?? -1),
    };
  });
  check(typeof firstChartMs === 'number', `time to first chart: ${firstChartMs?.toFixed(0)} ms after navigation start`);
  const tzText = await page.getByText('Times in ').textContent();
  check(/Times in Asia\/(Kolkata|Calcutta) \(UTC\+5:30\)/.test(tzText), `times are labelled in the browser's zone: "${tzText}"`);
  check(/updated (just now|\d+ (s|min) ago)/.test(await page.getByTestId('freshness').textContent()), 'the freshness reads "updated … ago"');
  const first24h = statsRequests.at(-1);
  check(first24h?.searchParams.get('bucket') === 'hour', 'the first stats request asks for hourly buckets');
  check(!first24h.searchParams.has('host') && !first24h.searchParams.has('path'), 'with no site chosen the stats count every site (no host, no path)');

  // Views and visitors: the headline, the summary and the chart's second series.
  const all = model.totals();
  await waitFor('the headline visitors', async () => /^[\d,]+$/.test(await page.getByTestId('visitors').textContent()), 20_000);
  const headVisitors = num(await page.getByTestId('visitors').textContent());
  check(headVisitors === all.visitors, `the headline shows every site's visitors (${headVisitors}: one per site, User-Agent and day)`);
  check(num(await page.getByTestId('page-views').textContent()) === all.views, `the headline still shows every view (${all.views})`);
  const apiStats = await (await fetch(`${baseURL}/api/stats?${first24h.searchParams}`)).json();
  check(num(await page.getByTestId('range-visitors').textContent()) === apiStats.visitors && apiStats.visitors === all.visitors,
    `the summary shows the range's visitors (${apiStats.visitors}, every visitor-day first seen in the last 24 hours)`);
  const apiSeriesVisitors = apiStats.series.reduce((a, b) => a + b.visitors, 0);
  check(Number(await chart.getAttribute('data-visitors')) === apiSeriesVisitors && (apiSeriesVisitors > 0) === model.countsVisitors,
    `the chart draws the visitors per hour the API answers (${apiSeriesVisitors} in all)`);
  const legendNames = await page.locator('.u-legend .u-series .u-label').allTextContents();
  check(legendNames.includes('Views') && legendNames.includes('Visitors'), `the chart's legend names both series (${legendNames.join(', ')})`);

  // Hover values: uPlot's legend shows the latest bucket, and the hovered one under the mouse.
  const legendValue = (i = 1) => page.locator('.u-legend .u-series').nth(i).locator('.u-value').textContent();
  const legendTime = () => page.locator('.u-legend .u-series').nth(0).locator('.u-value').textContent();
  const latest = await legendValue();
  const latestVisitors = await legendValue(2);
  check(Number(latest) > 0, `away from the chart the legend shows the latest hour (${await legendTime()}: ${latest})`);
  check(num(latestVisitors) === apiStats.series.at(-1)?.visitors, `the legend shows the latest hour's visitors too (${latestVisitors})`);
  const box = await chart.locator('.u-over').boundingBox();
  await page.mouse.move(box.x + 4, box.y + box.height / 2); // the oldest hour: no views
  const hoveredTime = await legendTime();
  check((await legendValue()) === '0' && (await legendValue(2)) === '0' && /\d\d:\d\d/.test(hoveredTime), `hovering the oldest hour shows its views and visitors (${hoveredTime}: 0, 0)`);
  await page.mouse.move(box.x + box.width - 3, box.y + box.height / 2);
  check((await legendValue()) === latest, 'hovering the newest hour shows its views');
  await page.mouse.move(1, 1);

  // Top pages list the seeded paths, most viewed first, each with its site and visitors.
  const top = page.getByTestId('top-pages');
  await top.waitFor();
  const paths = await top.locator('.path').allTextContents();
  check(paths[0] === '/blog/hello', `the most viewed page is /blog/hello (${paths.join(', ')})`);
  for (const p of ['/blog/hello', '/about', '/docs/getting-started', '/post-a', '/post-b', '/guide']) check(paths.includes(p), `top pages list ${p}`);
  const helloRow = top.locator('tbody tr').filter({ has: page.locator('.path', { hasText: /^\/blog\/hello$/ }) });
  const hello = model.page('', '/blog/hello');
  check(num(await helloRow.locator('.visitors').textContent()) === hello.visitors && num(await helloRow.locator('.views').textContent()) === hello.views,
    `top pages show /blog/hello's views and visitors (${hello.views}, ${hello.visitors})`);
  check((await helloRow.locator('.sub').textContent()) === 'default site', 'with every site shown, a page names its site ("default site")');
  check((await top.locator('tbody tr').filter({ hasText: '/post-a' }).locator('.sub').textContent()) === 'blog.example.com', 'and /post-a names blog.example.com');

  // The site picker lists every site with views.
  const picker = page.getByTestId('host-picker');
  await waitFor('the site list', async () => (await picker.locator('option').count()) > 1, 20_000);
  const options = await picker.locator('option').allTextContents();
  const wantOptions = ['All sites', ...model.hosts().sort((a, b) => b.views - a.views).map((h) => `${h.host === '' ? 'default site' : h.host} (${h.views} views)`)];
  check(JSON.stringify(options) === JSON.stringify(wantOptions), `the site picker lists every site, most viewed first (${options.join(' | ')})`);

  // The first screen, before the reader scrolls: only index.html's scripts were fetched (the
  // breakdowns and the snippets load when they come near), within the 100 KB budget as sent.
  const firstScreenJS = await page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .filter((r) => /\/assets\/[^/]+\.js$/.test(new URL(r.name).pathname))
      .map((r) => ({ file: new URL(r.name).pathname, encodedBytes: r.encodedBodySize, bytes: r.decodedBodySize })),
  );
  navTiming.firstScreenJS = firstScreenJS;
  const firstScreenBytes = firstScreenJS.reduce((a, r) => a + r.encodedBytes, 0);
  const htmlScripts = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]).sort();
  check(JSON.stringify(firstScreenJS.map((r) => r.file).sort()) === JSON.stringify(htmlScripts),
    `the first screen fetches only index.html's scripts (${firstScreenJS.map((r) => r.file).join(', ')})`);
  check(firstScreenBytes > 0 && firstScreenBytes <= 100_000, `the first screen's JavaScript is ${firstScreenBytes} bytes as sent (gzip), within 100 KB`);

  await page.screenshot({ path: join(RESULTS, 'home.png'), fullPage: true });

  // Reload: the counter grows by this visit.
  await visit(page, () => page.reload());
  const second = await waitFor('the counter after reload', async () => {
    const n = await readCount();
    return n > 0 ? n : 0;
  }, 20_000);
  check(second === first + 1, `the counter grows on reload (${first} → ${second})`);
  await chart.locator('canvas').waitFor();

  // Switching the range changes the request — with the keyboard, as a visitor might.
  const before = statsRequests.length;
  const radio24 = page.getByRole('radio', { name: '24 h' });
  await radio24.focus();
  await page.keyboard.press('ArrowRight'); // → 7 d
  await waitFor('a 7 d stats request', () => statsRequests.length > before, 10_000, 100);
  const r7 = statsRequests.at(-1);
  const span7 = (Date.parse(r7.searchParams.get('to')) - Date.parse(r7.searchParams.get('from'))) / 3_600_000;
  check(span7 === 168 && r7.searchParams.get('bucket') === 'hour', `7 d asks for 168 hourly buckets (from ${r7.searchParams.get('from')})`);
  await waitFor('the 7 d chart', async () => Number(await chart.getAttribute('data-points')) === 168, 10_000, 100);
  check(true, 'the chart redraws with 168 hourly buckets');
  check(new URL(page.url()).search === '?range=7d', `the range is kept in the address (${new URL(page.url()).search})`);

  const before30 = statsRequests.length;
  await page.keyboard.press('ArrowRight'); // → 30 d
  await waitFor('a 30 d stats request', () => statsRequests.length > before30, 10_000, 100);
  const r30 = statsRequests.at(-1);
  check(r30.searchParams.get('bucket') === 'day' && /^Asia\/(Kolkata|Calcutta)$/.test(r30.searchParams.get('tz')), `30 d asks for daily buckets in ${r30.searchParams.get('tz')}`);
  await waitFor('the daily chart', async () => (await page.locator('#chart-title').textContent()) === 'Views and visitors per day', 10_000, 100);
  await waitFor('30 daily points', async () => Number(await chart.getAttribute('data-points')) === 30, 10_000, 100);
  check(Number(await chart.getAttribute('data-total')) === second, `the 30 d chart holds every view (${second})`);
  const dayVisitors = Number(await chart.getAttribute('data-visitors'));
  const rangeVisitors30 = num(await page.getByTestId('range-visitors').textContent());
  check(dayVisitors === rangeVisitors30 && dayVisitors === model.totals().visitors,
    `the daily visitors add up to the range's (${dayVisitors}: each visitor-day in the local day of its first view)`);
  check((await page.getByRole('heading', { name: 'Top pages, last 30 days' }).count()) === 1, 'the top pages follow the range');

  // Back in the history returns to the 7 d view, then to 24 h; the page follows the address.
  await page.goBack();
  await waitFor('the 7 d chart again', async () => Number(await chart.getAttribute('data-points')) === 168, 10_000, 100);
  check(new URL(page.url()).search === '?range=7d' && (await page.getByRole('radio', { name: '7 d' }).isChecked()), 'Back returns to 7 d, radio and chart');
  await page.goBack();
  await waitFor('the 24 h chart again', async () => Number(await chart.getAttribute('data-points')) === 24, 10_000, 100);
  check(new URL(page.url()).search === '', 'Back again returns to 24 h with a bare address');

  // Pick a site: every number follows, and the choice is in the address.
  const blog = model.totals('blog.example.com');
  await picker.selectOption({ label: `blog.example.com (${blog.views} views)` });
  check(new URL(page.url()).search === '?host=blog.example.com', `picking a site puts it in the address (${new URL(page.url()).search})`);
  const summary = page.getByTestId('summary');
  await waitFor('blog.example.com stats', async () => (await summary.getAttribute('data-host')) === 'blog.example.com', 10_000, 100);
  check(statsRequests.at(-1).searchParams.get('host') === 'blog.example.com', 'the stats request names the site');
  check(num(await page.getByTestId('page-views').textContent()) === blog.views && num(await page.getByTestId('visitors').textContent()) === blog.visitors,
    `the headline shows blog.example.com's views and visitors (${blog.views}, ${blog.visitors})`);
  check((await page.getByTestId('headline-scope').textContent()).includes('blog.example.com'), 'the headline says which site it counts');
  check(Number(await chart.getAttribute('data-total')) === blog.views, `the chart holds the site's views (${blog.views})`);
  await waitFor('the site\'s top pages', async () => (await top.locator('.path').allTextContents()).join() === '/post-a,/post-b', 10_000, 100);
  check((await top.locator('.sub').count()) === 0, "top pages list only the site's pages, without naming the site");

  // The breakdown cards load as they come near the screen, for the chosen site.
  const cards = page.getByTestId('breakdowns');
  await cards.scrollIntoViewIfNeeded();
  const list = (by) => page.getByTestId(`breakdown-${by}`);
  const showing = async (by, host, path = '') => {
    await waitFor(`the ${by} breakdown of ${host} ${path}`, async () => (await list(by).getAttribute('data-host')) === host && (await list(by).getAttribute('data-path')) === path, 10_000, 100);
  };
  const checkList = async (by, host, path, what) => {
    const counted = by === 'referrer_host' || by.startsWith('utm_') ? path : null;
    await showing(by, host === null ? '*' : host, counted ?? '');
    const got = comparable(await tableRows(list(by)));
    const want = expectedRows(by, model.breakdown(by, host, counted));
    check(JSON.stringify(got) === JSON.stringify(want), `${what}: ${JSON.stringify(got)}`);
    const views = (await tableRows(list(by))).filter((r) => r[3] === 'value').map((r) => r[1]);
    check(views.every((v, i) => i === 0 || views[i - 1] >= v), `${by}: most viewed first`);
  };
  const days = await page.getByTestId('breakdown-days').textContent();
  check(/whole UTC days/.test(days), `the cards say which UTC days they count ("${days}")`);
  await checkList('referrer_host', 'blog.example.com', null, 'referring sites of blog.example.com, with "Direct or unknown"');
  await checkList('referrer', 'blog.example.com', null, 'with a site chosen, its full referrers (query strings dropped)');
  for (const by of ['utm_source', 'utm_medium', 'utm_campaign']) await checkList(by, 'blog.example.com', null, `campaigns by ${by}, with "No campaign"`);
  for (const by of ['browser', 'os', 'device']) await checkList(by, 'blog.example.com', null, `${by} of blog.example.com`);
  await checkList('country', 'blog.example.com', null, 'countries: all unknown without a trusted country header, and shown so');
  await page.screenshot({ path: join(RESULTS, 'site-breakdowns.png'), fullPage: true });

  // The choice survives a reload.
  await visit(page, () => page.reload());
  await waitFor('the site after reload', async () => (await summary.getAttribute('data-host')) === 'blog.example.com', 20_000, 100);
  await waitFor("the site's headline after reload", async () => num(await page.getByTestId('page-views').textContent()) === blog.views, 20_000, 100);
  check((await picker.inputValue()) === '=blog.example.com', 'after a reload the page still shows blog.example.com, picker and headline');

  // A page's row filters the chart and the cards that count per page; the others say they count the site.
  await top.getByRole('button', { name: '/post-a' }).click();
  check(new URL(page.url()).search === '?host=blog.example.com&path=/post-a', `pressing a page puts it in the address (${new URL(page.url()).search})`);
  await waitFor('/post-a stats', async () => (await summary.getAttribute('data-path')) === '/post-a', 10_000, 100);
  const postA = model.page('blog.example.com', '/post-a');
  check(Number(await chart.getAttribute('data-total')) === postA.views && num(await page.getByTestId('range-visitors').textContent()) === postA.visitors,
    `the chart counts /post-a alone (${postA.views} views, ${postA.visitors} visitors)`);
  check((await page.getByTestId('path-filter').textContent()).includes('/post-a'), 'the filter shows which page is chosen');
  check((await top.getByRole('button', { name: '/post-a' }).getAttribute('aria-pressed')) === 'true', 'the chosen page is pressed');
  await cards.scrollIntoViewIfNeeded();
  await checkList('referrer_host', 'blog.example.com', '/post-a', 'referring sites of /post-a alone');
  await checkList('utm_source', 'blog.example.com', '/post-a', 'campaign sources of /post-a alone');
  await checkList('browser', 'blog.example.com', '/post-a', 'browsers stay those of the whole site');
  for (const by of ['referrer', 'browser', 'os', 'device', 'country']) {
    check((await list(by).textContent()).includes('Kept per site, not per page'), `the ${by} list says it counts the whole site`);
  }
  const perSiteOnly = new Set(['referrer', 'browser', 'os', 'device', 'country']);
  const badAsks = breakdownRequests.filter((u) => u.searchParams.has('path') && perSiteOnly.has(u.searchParams.get('by')));
  check(badAsks.length === 0, `no breakdown is asked per page where the API keeps none (${badAsks.length} such requests)`);
  await page.screenshot({ path: join(RESULTS, 'page-filter.png'), fullPage: true });

  // Back clears the page filter; the whole-site button too.
  await page.goBack();
  await waitFor('the whole site again', async () => (await summary.getAttribute('data-path')) === '', 10_000, 100);
  check(new URL(page.url()).search === '?host=blog.example.com' && (await page.getByTestId('path-filter').count()) === 0, 'Back returns to the whole site');
  await page.goForward();
  await page.getByTestId('path-filter').getByRole('button', { name: 'Show the whole site' }).click();
  await waitFor('the whole site again', async () => (await summary.getAttribute('data-path')) === '', 10_000, 100);
  check(new URL(page.url()).search === '?host=blog.example.com', '"Show the whole site" clears the page filter');

  // The default site is host= (empty), not every site.
  const def = model.totals('');
  await picker.selectOption({ value: '=' });
  check(new URL(page.url()).search === '?host=', `the default site is host= in the address (${new URL(page.url()).search})`);
  await waitFor('default-site stats', async () => (await summary.getAttribute('data-host')) === '', 10_000, 100);
  const defReq = statsRequests.at(-1);
  check(defReq.searchParams.has('host') && defReq.searchParams.get('host') === '', 'the stats request sends host= (empty) for the default site');
  check(num(await page.getByTestId('page-views').textContent()) === def.views && num(await page.getByTestId('visitors').textContent()) === def.visitors,
    `the headline shows the default site's views and visitors (${def.views}, ${def.visitors})`);
  await cards.scrollIntoViewIfNeeded();
  await checkList('referrer_host', '', null, 'referring sites of the default site');
  await checkList('referrer', '', null, 'full referrers of the default site');
  await checkList('browser', '', null, 'browsers of the default site, this browser included');

  // Every site again: the full referrer needs a site, so it is not asked for.
  await picker.selectOption({ value: '*' });
  check(new URL(page.url()).search === '', 'every site is a bare address');
  await checkList('referrer_host', null, null, 'referring sites of every site');
  await checkList('device', null, null, 'devices of every site (visitors summed over sites)');
  check((await list('referrer').getAttribute('data-state')) === 'not-asked' && (await list('referrer').textContent()).includes('Pick a site'),
    'with every site shown, the full referrer asks for a site instead');
  const noHostReferrer = breakdownRequests.filter((u) => u.searchParams.get('by') === 'referrer' && !u.searchParams.has('host'));
  check(noHostReferrer.length === 0, 'the full referrer is never asked for without a site');
  const refused = apiAnswers.filter(([status, url]) => status >= 400 && (badgeServed || !url.startsWith(`${baseURL}/api/badge.svg`)));
  check(refused.length === 0, `every API call of the page was answered 2xx (${refused.map(([st, u]) => `${st} ${u}`).join(', ') || 'none refused'})`);

  // Add prawn to your site: the snippets, from this server's origin, with copy buttons.
  const snippets = page.getByTestId('snippets');
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await snippets.waitFor();
  const want = {
    script: `<script async src="${baseURL}/count.js"></script>`,
    pixel: `<noscript><img src="${baseURL}/api/views.gif?path=/x" alt=""></noscript>`,
    badge: `![views](${baseURL}/api/badge.svg?path=/README&record=true)`,
  };
  for (const [k, text] of Object.entries(want)) {
    const got = await page.getByTestId(`snippet-${k}`).textContent();
    check(got === text, `the ${k} snippet is ${got}`);
  }
  const preview = page.getByTestId('badge-preview');
  check((await preview.getAttribute('src')) === `${baseURL}/api/badge.svg?path=/README`, 'the badge preview shows /README without recording');
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL });
  for (const [k, title] of [['script', 'On any page'], ['pixel', 'Pages without JavaScript'], ['badge', 'A badge for a README']]) {
    await page.getByRole('button', { name: `Copy: ${title}` }).click();
    await snippets.getByRole('status').filter({ hasText: 'Copied.' }).first().waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    check(copied === want[k], `"Copy" puts the ${k} snippet on the clipboard`);
  }
  const pathInput = page.getByLabel('Path the badge counts');
  await pathInput.fill('/docs/a b');
  check((await page.getByTestId('snippet-badge').textContent()) === `![views](${baseURL}/api/badge.svg?path=/docs/a%20b&record=true)`, 'the badge snippet follows the path typed, escaped');
  check((await preview.getAttribute('src')) === `${baseURL}/api/badge.svg?path=/docs/a%20b`, 'and so does the preview');
  await pathInput.fill('README');
  check((await snippets.textContent()).includes('A path starts with “/”'), 'a path without "/" is refused with what to fix');
  check((await page.getByTestId('snippet-badge').textContent()).includes('path=/docs/a%20b&'), 'and the snippet keeps the last good path');
  await pathInput.fill('/README');
  if (badgeServed) {
    await waitFor('the badge to render', () => preview.evaluate((img) => img.complete && img.naturalWidth > 0), 10_000, 100);
    check(true, 'the badge preview renders (naturalWidth > 0)');
  }
  check((await page.getByRole('heading', { name: 'How it works' }).count()) === 1, '"How it works" loads with the snippets');
  await snippets.screenshot({ path: join(RESULTS, 'snippets.png') });

  // Dark mode follows prefers-color-scheme.
  const lightBg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  await page.emulateMedia({ colorScheme: 'dark' });
  const darkBg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  check(lightBg !== darkBg, `dark mode changes the colours (${lightBg} → ${darkBg})`);
  await page.screenshot({ path: join(RESULTS, 'home-dark.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });

  // A narrow screen, every section loaded: nothing overflows sideways.
  await page.setViewportSize({ width: 375, height: 800 });
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, `no horizontal scrolling at 375 px with every card and the snippets shown (overflow ${overflow})`);
  await page.screenshot({ path: join(RESULTS, 'home-mobile.png'), fullPage: true });
  await page.getByTestId('card-campaigns').screenshot({ path: join(RESULTS, 'mobile-campaigns.png') });
  await snippets.screenshot({ path: join(RESULTS, 'mobile-snippets.png') });

  // The API reference renders the served spec.
  await page.setViewportSize({ width: 1100, height: 900 });
  await page.goto(baseURL + '/api/docs');
  await page.locator('.swagger-ui .info .title').waitFor({ timeout: 30_000 });
  check((await page.locator('.swagger-ui .info .title').textContent()).includes('prawn'), '/api/docs renders the spec title');
  check((await page.locator('.opblock-summary-path', { hasText: '/api/stats' }).count()) >= 1, '/api/docs lists GET /api/stats');
  await page.screenshot({ path: join(RESULTS, 'docs.png') });

  check(problems.length === 0, `no console errors or failed requests${problems.length ? ':\n  ' + problems.join('\n  ') : ''}`);

  // A headless browser announcing itself is a bot: answered, not counted, and told so.
  const botContext = await browser.newContext(); // the default "HeadlessChrome" user agent
  const bot = await botContext.newPage();
  await bot.goto(baseURL + '/');
  await bot.getByText('This visit was not counted').waitFor();
  const botCount = num(await bot.getByTestId('page-views').textContent());
  check(botCount === model.totals().views, `a bot sees the count (${botCount}) without adding to it`);
  await botContext.close();

  // Error and empty states, with the API answers replaced in the browser (after the
  // console check: a 503 is logged by Chromium as a failed resource).
  const unavailable = (detail) => (route) =>
    route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ title: 'Service Unavailable', status: 503, detail }) });
  const broken = await context.newPage();
  await broken.route('**/api/stats?*', unavailable('the database is unreachable'));
  await broken.route('**/api/hosts', unavailable('the hosts are unreachable'));
  await broken.route('**/api/pages?*', (route) =>
    route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ from: new Date().toISOString(), to: new Date().toISOString(), pages: [] }) }),
  );
  await broken.route('**/api/breakdown?*', (route) => {
    const by = new URL(route.request().url()).searchParams.get('by');
    if (by === 'os') return unavailable('the breakdowns are unreachable')(route);
    const zero = { views: 0, visitors: 0 };
    return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ by, from: new Date().toISOString(), to: new Date().toISOString(), values: [], others: zero, unknown: zero }) });
  });
  await visit(broken, () => broken.goto(baseURL + '/'));
  const alert = broken.getByRole('alert').filter({ hasText: 'Could not load the chart' });
  await alert.waitFor();
  check((await alert.textContent()).includes('Service Unavailable: the database is unreachable'), 'a failed stats call shows the problem and a retry button');
  check((await alert.getByRole('button', { name: 'Try again' }).count()) === 1, 'the error state offers "Try again"');
  await broken.getByTestId('pages-empty').waitFor();
  check(true, 'an empty top-pages answer shows the empty state');
  const hostsAlert = broken.getByRole('alert').filter({ hasText: 'Could not load the sites' });
  await hostsAlert.waitFor();
  check((await hostsAlert.textContent()).includes('the hosts are unreachable') && (await broken.getByTestId('host-picker').locator('option').allTextContents()).join() === 'All sites',
    'a failed site list says so and still offers every site');
  check(/^[\d,]+$/.test(await broken.getByTestId('page-views').textContent()), 'without the site list the headline still shows GET /api/home\'s count');
  await broken.getByTestId('breakdowns').scrollIntoViewIfNeeded();
  await broken.getByTestId('empty-browser').waitFor();
  check((await broken.getByTestId('empty-browser').textContent()) === 'No views in this range.', 'an empty breakdown shows the empty state');
  const osAlert = broken.getByTestId('breakdown-os').getByRole('alert');
  await osAlert.waitFor();
  check((await osAlert.textContent()).includes('the breakdowns are unreachable') && (await osAlert.getByRole('button', { name: 'Try again' }).count()) === 1,
    'a failed breakdown shows the problem and "Try again" in its own card');
  await broken.close();

  await writeFile(
    join(RESULTS, 'timing.json'),
    JSON.stringify({ firstChartMs: Math.round(firstChartMs), ...navTiming, date: new Date().toISOString(), baseURL }, null, 2) + '\n',
  );
  log(`time to first chart: ${Math.round(firstChartMs)} ms (DOMContentLoaded ${navTiming.domContentLoadedMs} ms, /api/home answered at ${navTiming.homeResponseEndMs} ms, /api/stats at ${navTiming.statsResponseEndMs} ms)`);
}

async function cleanUp() {
  await browser?.close().catch(() => {});
  const code = await stopServer().catch(() => undefined);
  if (dropDatabase) await dropDatabase().catch((e) => log('could not drop the database:', e.message));
  if (tmp) await rm(tmp, { recursive: true, force: true }).catch((e) => log('could not remove', tmp, e.message));
  return code;
}

// Stopped from outside (timeout, Ctrl-C): stop the server and drop the database first.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    console.error(`[e2e] FAILED: ${sig} received`);
    await cleanUp();
    console.log(`e2e: ${checks} passed, 1 failed`);
    process.exit(1);
  });
}
// A closed stdout (e2e.mjs | head) must not skip the clean-up.
process.stdout.on('error', () => {});

const deadline = setTimeout(async () => {
  console.error(`[e2e] FAILED: no result after ${DEADLINE_MS / 1000} s`);
  await cleanUp();
  process.exit(1);
}, DEADLINE_MS);

try {
  await main();
  clearTimeout(deadline);
  const code = await cleanUp();
  if (code !== 0 && code !== undefined) throw new Error(`prawn serve exited with ${code} after SIGTERM`);
  console.log(`e2e: ${checks} passed, 0 failed`);
  process.exit(0);
} catch (err) {
  clearTimeout(deadline);
  console.error('[e2e] FAILED:', err.message);
  if (shownPage) {
    const text = await shownPage.locator('body').innerText({ timeout: 2000 }).catch(() => '');
    console.error('--- what the page showed ---\n' + text.slice(0, 2000));
    await shownPage.screenshot({ path: join(RESULTS, 'failed.png'), fullPage: true }).catch(() => {});
  }
  if (server?.logPath) {
    const logText = await readFile(server.logPath, 'utf8').catch(() => '');
    console.error('--- prawn serve log (last 40 lines) ---\n' + logText.split('\n').slice(-40).join('\n'));
  }
  await cleanUp();
  console.log(`e2e: ${checks} passed, 1 failed`);
  process.exit(1);
}
