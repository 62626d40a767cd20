import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gzipSize } from './vite.tracker.ts';
import { gzipCopy, PRECOMPRESSED } from './vite.gzip.ts';

describe('gzipCopy', () => {
  it('is the bytes the budget counts, and decompresses to the file', () => {
    const code = 'export const a = 1;\n'.repeat(200);
    const gz = gzipCopy(code);
    expect(gz).toBeDefined();
    expect(gz?.length).toBe(gzipSize(code));
    expect(gunzipSync(gz as Buffer).toString()).toBe(code);
  });

  it('writes no copy that is not smaller', () => {
    expect(gzipCopy('x')).toBeUndefined();
    expect(gzipCopy(new Uint8Array([1, 2, 3]))).toBeUndefined();
  });

  it('covers text files only', () => {
    for (const f of ['assets/index-a.js', 'assets/index-a.css', 'index.html', 'favicon.svg', 'count.js']) expect(PRECOMPRESSED.test(f), f).toBe(true);
    for (const f of ['assets/logo.png', 'assets/font.woff2', 'assets/index-a.js.gz']) expect(PRECOMPRESSED.test(f), f).toBe(false);
  });
});
