// Browser test of private stats (PRAWN_STATS=private): the page asks for a token, says when the
// one given is wrong, and shows the numbers with a right one, which it keeps in local storage
// and never puts in a URL. It starts the real `prawn serve` (built with the page embedded, as
// e2e.mjs does) on a fresh database of TEST_DATABASE_URL or DATABASE_URL when one is set, else
// on its embedded Postgres in a temporary folder, makes tokens with `prawn token create`, and drives Debian's Chromium. Bounded; exits non-zero on any
// failure. Run: node e2e/private.mjs (after the frontend is built).

import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const started = Date.now();
const log = (...a) => console.log(`[private ${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);
let checks = 0;
const check = (cond, what) => {
  if (!cond) throw new Error(`check failed: ${what}`);
  checks++;
  log('ok -', what);
};
const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

async function main() {
  const base = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  const tmp = await mkdtemp(join(tmpdir(), 'prawn-private-'));
  const name = `prawn_private_${process.pid}_${Date.now().toString(36)}`;
  const db = {};
  if (base) {
    await run('psql', [base, '-v', 'ON_ERROR_STOP=1', '-qc', `CREATE DATABASE ${name}`]);
    const url = new URL(base);
    url.pathname = `/${name}`;
    db.DATABASE_URL = url.toString();
    log('database: fresh database', name, 'on', url.host);
  } else {
    // No server given: prawn's embedded Postgres, in a data folder of its own.
    const dataDir = join(tmp, 'data');
    await mkdir(dataDir);
    await chmod(dataDir, 0o755);
    db.PRAWN_DATA_DIR = dataDir;
    log('database: embedded Postgres in', dataDir);
  }
  const bin = process.env.PRAWN_BIN || join(tmp, 'prawn');
  if (!process.env.PRAWN_BIN) await run('go', ['build', '-o', bin, './cmd/prawn'], { cwd: ROOT, timeout: 180_000 });
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const env = { ...process.env, ...db, PRAWN_ADDR: `127.0.0.1:${port}`, PRAWN_STATS: 'private', PRAWN_LOG_LEVEL: 'warn' };
  let server, browser;
  try {
    const made = await run(bin, ['token', 'create', '--name', 'page', '--scope', 'read'], { env });
    const token = made.stdout.match(/prawn_[A-Za-z0-9_-]{43}/)?.[0];
    check(token, 'prawn token create printed a token');
    server = spawn(bin, ['serve'], { env, stdio: 'ignore' });
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${baseURL}/readyz`)).ok) break;
      } catch {}
      if (i > 300) throw new Error('prawn serve did not get ready');
      await new Promise((r) => setTimeout(r, 200));
    }
    check((await fetch(`${baseURL}/api/stats`)).status === 401, 'GET /api/stats without a token is 401');

    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 60_000,
    });
    const userAgent = `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${browser.version()} Safari/537.36`;
    const context = await browser.newContext({ userAgent });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const urls = [];
    page.on('request', (r) => urls.push(r.url()));

    await page.goto(baseURL + '/');
    const prompt = page.getByTestId('token-prompt');
    await prompt.waitFor();
    check((await prompt.textContent()).includes('private'), 'the page asks for a token and says why');

    await page.getByLabel('API token').fill('prawn_' + 'x'.repeat(43));
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Save and reload' }).click()]);
    await prompt.waitFor();
    check((await prompt.textContent()).includes('not valid'), 'a wrong token is called not valid');

    await page.getByLabel('API token').fill(token);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Save and reload' }).click()]);
    await page.getByTestId('range-views').waitFor();
    check((await page.getByTestId('token-prompt').count()) === 0, 'with the right token the prompt is gone');
    const views = await page.getByTestId('page-views').textContent();
    check(/^\d/.test(views.trim()), `the counter shows a number (${views.trim()})`);
    check((await page.evaluate(() => localStorage.getItem('prawn.token'))) === token, 'the token is kept in local storage');
    check(!urls.some((u) => u.includes(token)), 'the token never appears in a URL');
    log(`${checks} checks passed`);
  } finally {
    await browser?.close();
    if (server && server.exitCode === null) {
      // prawn serve stops its embedded Postgres before it exits: wait for it (bounded).
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    }
    if (base) await run('psql', [base, '-qc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]).catch(() => {});
    await rm(tmp, { recursive: true, force: true });
  }
}

const deadline = setTimeout(() => {
  console.error('private: timed out');
  process.exit(1);
}, 240_000);
main().then(
  () => {
    clearTimeout(deadline);
    process.exit(0);
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
