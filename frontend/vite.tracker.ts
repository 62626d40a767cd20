// Builds the tracker (src/tracker/count.ts) on its own into one minified IIFE, count.js, and
// checks its size. vite.config.ts emits it into the page's build (dist/app/count.js, served by
// internal/web at /count.js); the tracker's tests build it the same way and run what ships.
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Plugin, type Rolldown } from 'vite';

/** The tracker's size goal: at most this many bytes gzipped (level 9). */
export const TRACKER_GZIP_LIMIT = 1024;

/** The tracker's entry, relative to frontend/. */
export const TRACKER_ENTRY = 'src/tracker/count.ts';

/** gzipSize is the length of data compressed with gzip at level 9, as `gzip -9` does. */
export function gzipSize(data: string): number {
  return gzipSync(Buffer.from(data), { level: 9 }).length;
}

/** buildTracker builds the tracker and returns count.js's code. */
export async function buildTracker(): Promise<string> {
  const root = import.meta.dirname;
  const result = await build({
    configFile: false,
    root,
    logLevel: 'warn',
    publicDir: false,
    build: {
      write: false,
      emptyOutDir: false,
      copyPublicDir: false,
      reportCompressedSize: false,
      modulePreload: false,
      // Every browser with sendBeacon runs ES2017; older syntax costs nothing in size here.
      target: 'es2017',
      minify: true,
      rolldownOptions: {
        input: resolve(root, TRACKER_ENTRY),
        output: { format: 'iife', entryFileNames: 'count.js' },
      },
    },
  });
  const outputs = (Array.isArray(result) ? result : [result]) as Rolldown.RolldownOutput[];
  const chunks = outputs.flatMap((o) => o.output).filter((o) => o.type === 'chunk');
  const [chunk] = chunks;
  if (chunks.length !== 1 || !chunk) {
    throw new Error(`tracker build: want one chunk, got ${chunks.length}`);
  }
  return chunk.code;
}

/**
 * trackerPlugin adds count.js to the build's output folder, and fails the build when it is
 * larger than TRACKER_GZIP_LIMIT bytes gzipped.
 */
export function trackerPlugin(): Plugin {
  return {
    name: 'prawn-tracker',
    apply: 'build',
    async generateBundle() {
      const code = await buildTracker();
      const size = gzipSize(code);
      if (size > TRACKER_GZIP_LIMIT) {
        this.error(`count.js is ${size} bytes gzipped, over the ${TRACKER_GZIP_LIMIT}-byte limit`);
      }
      this.info(`count.js: ${code.length} bytes, ${size} bytes gzipped (limit ${TRACKER_GZIP_LIMIT})`);
      this.emitFile({ type: 'asset', fileName: 'count.js', source: code });
    },
  };
}
