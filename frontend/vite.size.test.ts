import { describe, expect, it } from 'vitest';
import { budgetTable, FIRST_LOAD_GZIP_LIMIT, htmlScripts, pageBudget, type ChunkInfo } from './vite.size.ts';
import { gzipSize } from './vite.tracker.ts';

// An index.html as Vite writes it.
const html = `<!doctype html><html><head>
<script type="module" crossorigin src="/assets/index-AAA.js"></script>
<link rel="modulepreload" crossorigin href="/assets/rolldown-runtime-BBB.js">
<link rel="stylesheet" crossorigin href="/assets/index-CCC.css">
<link rel="icon" href="/favicon.svg">
<script src="https://cdn.example/x.js"></script>
</head><body><div id="root"></div></body></html>`;

const chunk = (code: string, imports: string[] = [], dynamicImports: string[] = []): ChunkInfo => ({ code, imports, dynamicImports });

describe('htmlScripts', () => {
  it('lists module scripts and modulepreloads, not styles, icons or other origins', () => {
    expect(htmlScripts(html)).toEqual(['assets/index-AAA.js', 'assets/rolldown-runtime-BBB.js']);
  });
  it('reads attributes in any order and quoting', () => {
    expect(htmlScripts(`<link href='/a.js' rel=x><link href='./b.js' REL='modulepreload'><SCRIPT SRC="c.js" type=module></SCRIPT>`)).toEqual(['b.js', 'c.js']);
  });
});

describe('pageBudget', () => {
  const big = 'x'.repeat(5000) + Math.random().toString(36).repeat(100);
  const chunks = {
    'assets/index-AAA.js': chunk('main();'.repeat(50), ['assets/rolldown-runtime-BBB.js', 'assets/shared-DDD.js'], ['assets/Breakdowns-EEE.js', 'assets/Snippets-FFF.js']),
    'assets/rolldown-runtime-BBB.js': chunk('runtime();'),
    // Imported statically but not preloaded by the HTML: still part of the first load.
    'assets/shared-DDD.js': chunk('shared();'),
    'assets/Breakdowns-EEE.js': chunk(big, ['assets/index-AAA.js', 'assets/later-GGG.js']),
    'assets/Snippets-FFF.js': chunk('snippets();', ['assets/index-AAA.js']),
    'assets/later-GGG.js': chunk('later();'),
    'assets/docs-HHH.js': chunk(big + big), // another page's entry: neither
  };
  const b = pageBudget(html, chunks);

  it('counts the HTML scripts and their static imports as the first load', () => {
    expect(b.firstLoad.map((c) => c.file).sort()).toEqual(['assets/index-AAA.js', 'assets/rolldown-runtime-BBB.js', 'assets/shared-DDD.js']);
    expect(b.firstLoadGzip).toBe(gzipSize('main();'.repeat(50)) + gzipSize('runtime();') + gzipSize('shared();'));
    expect(b.firstLoadRaw).toBe('main();'.length * 50 + 'runtime();'.length + 'shared();'.length);
  });
  it('reports what dynamic imports reach as lazy, and another page as neither', () => {
    expect(b.lazy.map((c) => c.file).sort()).toEqual(['assets/Breakdowns-EEE.js', 'assets/Snippets-FFF.js', 'assets/later-GGG.js']);
    expect(b.lazy.find((c) => c.file === 'assets/Breakdowns-EEE.js')?.gzip).toBe(gzipSize(big));
  });
  it('moves a chunk into the first load when the page imports it statically', () => {
    const eager = pageBudget(html, { ...chunks, 'assets/index-AAA.js': chunk('main();', ['assets/rolldown-runtime-BBB.js', 'assets/Breakdowns-EEE.js']) });
    expect(eager.firstLoad.map((c) => c.file)).toContain('assets/Breakdowns-EEE.js');
    expect(eager.firstLoadGzip).toBeGreaterThan(b.firstLoadGzip);
  });
  it('refuses an HTML that loads a file the build does not have', () => {
    expect(() => pageBudget('<script type="module" src="/assets/gone.js"></script>', chunks)).toThrow(/assets\/gone\.js/);
  });
  it('prints every chunk and the total', () => {
    const t = budgetTable(b, FIRST_LOAD_GZIP_LIMIT);
    expect(t).toContain('assets/Snippets-FFF.js');
    expect(t).toContain(`${b.firstLoadGzip} bytes gzipped (limit 100000)`);
  });
});
