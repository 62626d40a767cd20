// Precompressed copies of the build: next to each text file (JavaScript, CSS, HTML, SVG, JSON)
// it writes FILE.gz, zlib at level 9 — the very bytes the first-load budget counts. prawn serve
// sends them as they are (internal/web), so what a browser receives is what the build measured,
// and no request spends CPU on compression. A copy that is not smaller is not written.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Plugin } from 'vite';

/** The files that get a .gz copy, by extension. */
export const PRECOMPRESSED = /\.(js|css|html|svg|json)$/;

/** The .gz copy of a file's bytes, or undefined when it would not be smaller. */
export function gzipCopy(source: string | Uint8Array): Buffer | undefined {
  const data = typeof source === 'string' ? Buffer.from(source) : Buffer.from(source);
  const gz = gzipSync(data, { level: 9 });
  return gz.length < data.length ? gz : undefined;
}

/** Writes FILE.gz next to every text file of the bundle (after the bundle is written). */
export function precompressPlugin(): Plugin {
  return {
    name: 'prawn-precompress',
    apply: 'build',
    async writeBundle(options, bundle) {
      const dir = options.dir;
      if (!dir) return;
      await Promise.all(
        Object.values(bundle).map(async (out) => {
          if (!PRECOMPRESSED.test(out.fileName)) return;
          const gz = gzipCopy(out.type === 'chunk' ? out.code : out.source);
          if (gz) await writeFile(join(dir, out.fileName + '.gz'), gz);
        }),
      );
    },
  };
}
