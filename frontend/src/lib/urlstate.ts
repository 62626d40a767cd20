// What the reader chose (site, page, range, buckets), kept in the page's query string so a
// reload or a shared link shows the same view. Pure functions: the tests pass the strings.

import { RANGES, rangeOf, type Bucket, type RangeKey } from './time';

/** The reader's choice. `host` null is every site, "" the default site; `path` null the whole site. */
export interface PageState {
  host: string | null;
  path: string | null;
  range: RangeKey;
  bucket: Bucket;
}

/** The longest host and path the API accepts (api/openapi.yaml). */
export const MAX_HOST = 253;
export const MAX_PATH = 512;

/** The state of a page without a query string: every site, the last 24 hours, hourly. */
export const DEFAULT_STATE: PageState = { host: null, path: null, range: '24h', bucket: 'hour' };

function isRange(v: string | null): v is RangeKey {
  return RANGES.some((r) => r.key === v);
}

/**
 * The state in a query string ("?host=blog.example.com&path=/post"). `host=` (empty) is the
 * default site and no `host` every site, as in the API. A value the API would refuse (a path
 * not starting with "/", one too long, an unknown range or bucket) is left out, so a hand-edited
 * link still opens the page; unknown parameters are ignored.
 */
export function parseState(search: string): PageState {
  const q = new URLSearchParams(search);
  const range = q.get('range');
  const s: PageState = { ...DEFAULT_STATE };
  if (isRange(range)) s.range = range;
  const bucket = q.get('bucket');
  s.bucket = bucket === 'hour' || bucket === 'day' ? bucket : rangeOf(s.range).bucket;
  const host = q.get('host');
  if (host !== null && host.length <= MAX_HOST) s.host = host.trim().toLowerCase();
  const path = q.get('path');
  if (path !== null && path.startsWith('/') && path.length <= MAX_PATH) s.path = path;
  return s;
}

/**
 * A query value escaped for a URL, leaving "/" as it is ("/blog/a b" → "/blog/a%20b"), and
 * "(" and ")" escaped too, so the URL also survives inside Markdown's (…).
 */
export function queryValue(v: string): string {
  return encodeURIComponent(v)
    .replaceAll('%2F', '/')
    .replace(/[()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The query string of a state ("" for the default state): only what differs from the
 * defaults, in a fixed order (host, path, range, bucket), so equal states give equal links.
 */
export function stateSearch(s: PageState): string {
  const parts: string[] = [];
  if (s.host !== null) parts.push(`host=${queryValue(s.host)}`);
  if (s.path !== null) parts.push(`path=${queryValue(s.path)}`);
  if (s.range !== DEFAULT_STATE.range) parts.push(`range=${s.range}`);
  if (s.bucket !== rangeOf(s.range).bucket) parts.push(`bucket=${s.bucket}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

/** The API's scope parameters for a state: `host` and `path` only when chosen ("" stays: the default site). */
export function scopeQuery(s: { host: string | null; path: string | null }): { host?: string; path?: string } {
  const q: { host?: string; path?: string } = {};
  if (s.host !== null) q.host = s.host;
  if (s.path !== null) q.path = s.path;
  return q;
}
