// End-to-end test of prawn's page in a real browser (Debian's Chromium driven by
// playwright-core). It builds and starts the real `prawn serve`, seeds views
// through the API, runs `prawn rollup`, and checks what a visitor sees.
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

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const FRONTEND = resolve(here, '..');
const ROOT = resolve(FRONTEND, '..');
const RESULTS = join(FRONTEND, 'test-results');
const DEADLINE_MS = 240_000;
// Not the machine's zone, to prove the page uses the browser's. Chromium's ICU may
// call it by its older name, Asia/Calcutta.
const BROWSER_TZ = 'Asia/Kolkata';
const SEED = { '/blog/hello': 5, '/about': 3, '/docs/getting-started': 2 };
const TAIL = { '/blog/hello': 2 }; // recorded after the rollup: read from the raw rows

let server; // the prawn serve child process
let browser;
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

async function post(baseURL, path) {
  for (let attempt = 0; ; attempt++) {
    const r = await fetch(`${baseURL}/api/views`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ path }),
    });
    if (r.status === 201) return;
    if (r.status === 429 && attempt < 5) {
      // Recording is rate limited per client: wait as told (bounded), then retry.
      const wait = Math.min(Number(r.headers.get('retry-after')) || 1, 10);
      log(`POST /api/views: 429, retrying in ${wait} s`);
      await new Promise((res) => setTimeout(res, wait * 1000));
      continue;
    }
    throw new Error(`POST /api/views ${path}: ${r.status} ${await r.text()}`);
  }
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
  for (const [path, n] of Object.entries(SEED)) for (let i = 0; i < n; i++) await post(baseURL, path);
  const rolled = await run(bin, ['rollup'], { env, timeout: 60_000 });
  log('prawn rollup:', rolled.stdout.trim());
  for (const [path, n] of Object.entries(TAIL)) for (let i = 0; i < n; i++) await post(baseURL, path);
  const seeded = [SEED, TAIL].flatMap((s) => Object.values(s)).reduce((a, b) => a + b, 0);

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 60_000,
  });
  // A visitor's browser, not "HeadlessChrome": the server does not count views from bots.
  const userAgent = `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${browser.version()} Safari/537.36`;
  const context = await browser.newContext({ userAgent, timezoneId: BROWSER_TZ, locale: 'en-GB', viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const problems = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // The page aborts a request a newer range superseded (ERR_ABORTED): by design, not a failure.
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText ?? '';
    if (!why.includes('ERR_ABORTED')) problems.push(`request failed: ${r.url()} ${why}`);
  });
  const statsRequests = [];
  page.on('request', (r) => r.url().includes('/api/stats') && statsRequests.push(new URL(r.url())));

  // First visit: the counter.
  await page.goto(baseURL + '/');
  const counter = page.getByTestId('page-views');
  const readCount = async () => {
    const text = await counter.textContent();
    return /^[\d,]+$/.test(text ?? '') ? Number(text.replaceAll(',', '')) : 0;
  };
  const first = await waitFor('the counter', readCount, 20_000);
  check(first === seeded + 1, `the headline counts the seeded views and this visit (${first})`);

  // The chart shows the seeded views and this visit's view of / (the page asks for
  // the numbers once its view is committed).
  const chart = page.getByTestId('chart');
  await chart.locator('canvas').waitFor();
  const chartTotal = Number(await chart.getAttribute('data-total'));
  check(chartTotal === first, `the chart holds the seeded views and this visit (${chartTotal} = ${seeded} + 1)`);
  check(Number((await page.getByTestId('all-time').textContent()).replaceAll(',', '')) === first, 'the all-time total agrees with the headline');
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

  // Hover values: uPlot's legend shows the latest bucket, and the hovered one under the mouse.
  const legendValue = () => page.locator('.u-legend .u-series').nth(1).locator('.u-value').textContent();
  const legendTime = () => page.locator('.u-legend .u-series').nth(0).locator('.u-value').textContent();
  const latest = await legendValue();
  check(Number(latest) > 0, `away from the chart the legend shows the latest hour (${await legendTime()}: ${latest})`);
  const box = await chart.locator('.u-over').boundingBox();
  await page.mouse.move(box.x + 4, box.y + box.height / 2); // the oldest hour: no views
  const hoveredTime = await legendTime();
  check((await legendValue()) === '0' && /\d\d:\d\d/.test(hoveredTime), `hovering the oldest hour shows its views (${hoveredTime}: 0)`);
  await page.mouse.move(box.x + box.width - 3, box.y + box.height / 2);
  check((await legendValue()) === latest, 'hovering the newest hour shows its views');
  await page.mouse.move(1, 1);

  // Top pages list the seeded paths, most viewed first.
  const top = page.getByTestId('top-pages');
  await top.waitFor();
  const paths = await top.locator('.path').allTextContents();
  check(paths[0] === '/blog/hello', `the most viewed page is /blog/hello (${paths.join(', ')})`);
  for (const p of Object.keys(SEED)) check(paths.includes(p), `top pages list ${p}`);

  await page.screenshot({ path: join(RESULTS, 'home.png'), fullPage: true });

  // Reload: the counter grows by this visit.
  await page.reload();
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

  const before30 = statsRequests.length;
  await page.keyboard.press('ArrowRight'); // → 30 d
  await waitFor('a 30 d stats request', () => statsRequests.length > before30, 10_000, 100);
  const r30 = statsRequests.at(-1);
  check(r30.searchParams.get('bucket') === 'day' && /^Asia\/(Kolkata|Calcutta)$/.test(r30.searchParams.get('tz')), `30 d asks for daily buckets in ${r30.searchParams.get('tz')}`);
  await waitFor('the daily chart', async () => (await page.locator('#chart-title').textContent()) === 'Page views per day', 10_000, 100);
  await waitFor('30 daily points', async () => Number(await chart.getAttribute('data-points')) === 30, 10_000, 100);
  check(Number(await chart.getAttribute('data-total')) === second, `the 30 d chart holds every view (${second})`);
  check((await page.getByRole('heading', { name: 'Top pages, last 30 days' }).count()) === 1, 'the top pages follow the range');

  // Dark mode follows prefers-color-scheme.
  const lightBg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  await page.emulateMedia({ colorScheme: 'dark' });
  const darkBg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  check(lightBg !== darkBg, `dark mode changes the colours (${lightBg} → ${darkBg})`);
  await page.screenshot({ path: join(RESULTS, 'home-dark-30d.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });

  // A narrow screen: nothing overflows sideways.
  await page.setViewportSize({ width: 375, height: 800 });
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, `no horizontal scrolling at 375 px (overflow ${overflow})`);
  await page.screenshot({ path: join(RESULTS, 'home-mobile.png'), fullPage: true });

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
  const botCount = Number((await bot.getByTestId('page-views').textContent()).replaceAll(',', ''));
  check(botCount === second, `a bot sees the count (${botCount}) without adding to it`);
  await botContext.close();

  // Error and empty states, with the API answers replaced in the browser (after the
  // console check: a 503 is logged by Chromium as a failed resource).
  const broken = await context.newPage();
  await broken.route('**/api/stats?*', (route) =>
    route.fulfill({
      status: 503,
      contentType: 'application/problem+json',
      body: JSON.stringify({ title: 'Service Unavailable', status: 503, detail: 'the database is unreachable' }),
    }),
  );
  await broken.route('**/api/pages?*', (route) =>
    route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ from: new Date().toISOString(), to: new Date().toISOString(), pages: [] }) }),
  );
  await broken.goto(baseURL + '/');
  const alert = broken.getByRole('alert').filter({ hasText: 'Could not load the chart' });
  await alert.waitFor();
  check((await alert.textContent()).includes('Service Unavailable: the database is unreachable'), 'a failed stats call shows the problem and a retry button');
  check((await alert.getByRole('button', { name: 'Try again' }).count()) === 1, 'the error state offers "Try again"');
  await broken.getByTestId('pages-empty').waitFor();
  check(true, 'an empty top-pages answer shows the empty state');
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
  if (server?.logPath) {
    const logText = await readFile(server.logPath, 'utf8').catch(() => '');
    console.error('--- prawn serve log (last 40 lines) ---\n' + logText.split('\n').slice(-40).join('\n'));
  }
  await cleanUp();
  console.log(`e2e: ${checks} passed, 1 failed`);
  process.exit(1);
}
