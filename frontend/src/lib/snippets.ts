// The copy-paste snippets of "Add prawn to your site", built from the origin the page is
// served from. The URLs and their parameters (/count.js, /api/views.gif, /api/badge.svg with
// path and record) are what people paste into their sites: they never change.

import { MAX_PATH, queryValue } from './urlstate';

/** What the section shows: three snippets and the badge preview's address. */
export interface Snippets {
  /** One line on any page: the tracker. */
  script: string;
  /** For pages without JavaScript: the pixel (its path is a placeholder for the page's). */
  pixel: string;
  /** A Markdown badge that counts a README's readers (record=true) and shows the count. */
  badge: string;
  /** The badge for the preview: shows the count without recording a view. */
  previewSrc: string;
}

/** The badge path shown before the reader types one. */
export const DEFAULT_BADGE_PATH = '/README';

/** The snippets for a prawn at `origin` ("https://prawn.example.com"), with the badge counting `badgePath`. */
export function buildSnippets(origin: string, badgePath: string = DEFAULT_BADGE_PATH): Snippets {
  const base = origin.replace(/\/+$/, '');
  const path = queryValue(badgePath);
  return {
    script: `<script async src="${base}/count.js"></script>`,
    pixel: `<noscript><img src="${base}/api/views.gif?path=/x" alt=""></noscript>`,
    badge: `![views](${base}/api/badge.svg?path=${path}&record=true)`,
    previewSrc: `${base}/api/badge.svg?path=${path}`,
  };
}

/** Why a badge path cannot be used, or undefined when it can: it starts with "/" and fits the API's limit. */
export function badgePathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'A path starts with “/”, such as /README.';
  if (path.length > MAX_PATH) return `A path has at most ${MAX_PATH} characters.`;
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'A path cannot hold control characters.';
  return undefined;
}
