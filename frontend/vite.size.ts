// The page's first-load budget: the JavaScript a browser must fetch before it can show the page
// (index.html's module scripts and modulepreloads, and every chunk those import statically) is
// at most FIRST_LOAD_GZIP_LIMIT bytes gzipped. Chunks reached only by dynamic import() (the
// breakdowns, the snippets) load later and are reported apart. vite.config.ts runs the check on
// every build and fails it when the page is over; docs/frontend.md records the numbers.
import type { Plugin } from 'vite';
import { gzipSize } from './vite.tracker.ts';

/** The page's first-load goal: at most this many bytes of JavaScript, gzipped (level 9). */
export const FIRST_LOAD_GZIP_LIMIT = 100_000;

/** What the budget needs of one JavaScript chunk of the build. */
export interface ChunkInfo {
  code: string;
  imports: readonly string[];
  dynamicImports: readonly string[];
}

/** One chunk's size. */
export interface ChunkSize {
  file: string;
  raw: number;
  gzip: number;
}

/** The page's JavaScript: what the first load fetches, what loads later, and the first load's total. */
export interface PageBudget {
  firstLoad: ChunkSize[];
  lazy: ChunkSize[];
  firstLoadGzip: number;
  firstLoadRaw: number;
}

/** The files an HTML page loads as module scripts or modulepreloads, without a leading "/" (as in the bundle). */
export function htmlScripts(html: string): string[] {
  const out: string[] = [];
  for (const tag of html.match(/<(script|link)\b[^>]*>/gi) ?? []) {
    const attr = (name: string) => tag.match(new RegExp(`\\s${name}\\s*=\\s*["']([^"']*)["']`, 'i'))?.[1];
    const isScript = /^<script/i.test(tag);
    const url = isScript ? attr('src') : attr('rel')?.toLowerCase() === 'modulepreload' ? attr('href') : undefined;
    if (url && !/^[a-z][a-z0-9+.-]*:|^\/\//i.test(url)) out.push(url.replace(/^\.?\//, ''));
  }
  return out;
}

/**
 * The budget of a page: its first load is the HTML's scripts and every chunk they import
 * statically (whether or not the HTML preloads it), its lazy chunks those reached through a
 * dynamic import from there. A script the HTML names that the build does not have is an error.
 */
export function pageBudget(html: string, chunks: Readonly<Record<string, ChunkInfo>>): PageBudget {
  const first = new Set<string>();
  const visit = (file: string) => {
    if (first.has(file)) return;
    const c = chunks[file];
    if (!c) throw new Error(`the page loads ${file}, which the build does not have`);
    first.add(file);
    c.imports.forEach(visit);
  };
  htmlScripts(html).forEach(visit);
  const lazy = new Set<string>();
  const queue = [...first].flatMap((f) => chunks[f]?.dynamicImports ?? []);
  while (queue.length) {
    const f = queue.shift() as string;
    if (first.has(f) || lazy.has(f) || !chunks[f]) continue;
    lazy.add(f);
    queue.push(...(chunks[f]?.imports ?? []), ...(chunks[f]?.dynamicImports ?? []));
  }
  const size = (file: string): ChunkSize => {
    const code = chunks[file]?.code ?? '';
    return { file, raw: Buffer.byteLength(code), gzip: gzipSize(code) };
  };
  const firstLoad = [...first].map(size);
  return {
    firstLoad,
    lazy: [...lazy].map(size),
    firstLoadGzip: firstLoad.reduce((a, c) => a + c.gzip, 0),
    firstLoadRaw: firstLoad.reduce((a, c) => a + c.raw, 0),
  };
}

/** A printable table of a budget. */
export function budgetTable(b: PageBudget, limit: number): string {
  const row = (c: ChunkSize, what: string) => `  ${what.padEnd(10)} ${c.file.padEnd(44)} ${String(c.raw).padStart(9)} ${String(c.gzip).padStart(8)}`;
  return [
    `  ${'load'.padEnd(10)} ${'file'.padEnd(44)} ${'raw'.padStart(9)} ${'gzip'.padStart(8)}`,
    ...b.firstLoad.map((c) => row(c, 'first')),
    ...b.lazy.map((c) => row(c, 'lazy')),
    `  first-load JavaScript: ${b.firstLoadRaw} bytes, ${b.firstLoadGzip} bytes gzipped (limit ${limit})`,
  ].join('\n');
}

/**
 * firstLoadBudgetPlugin prints the page's chunks with their gzipped sizes and fails the build
 * when the first load of `page` (an HTML file of the build) is over `limit` bytes gzipped.
 */
export function firstLoadBudgetPlugin(page = 'index.html', limit = FIRST_LOAD_GZIP_LIMIT): Plugin {
  return {
    name: 'prawn-first-load-budget',
    apply: 'build',
    generateBundle: {
      // After Vite has written the page's script and modulepreload tags.
      order: 'post',
      handler(_options, bundle) {
        const html = bundle[page];
        if (!html || html.type !== 'asset') {
          this.error(`first-load budget: the build has no ${page}`);
        }
        const chunks: Record<string, ChunkInfo> = {};
        for (const [file, out] of Object.entries(bundle)) {
          if (out.type === 'chunk') chunks[file] = { code: out.code, imports: out.imports, dynamicImports: out.dynamicImports };
        }
        const b = pageBudget(String(html.source), chunks);
        const table = budgetTable(b, limit);
        if (b.firstLoadGzip > limit) {
          this.error(`${page} loads ${b.firstLoadGzip} bytes of JavaScript gzipped at first, over the ${limit}-byte limit:\n${table}`);
        }
        this.info(`${page}:\n${table}`);
      },
    },
  };
}
