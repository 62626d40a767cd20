// Which breakdowns the page can ask for in a scope, the rows a card shows and the days it
// counts. Pure functions. Only the breakdown cards (a lazy chunk) use this module.

import type { components } from '../api/schema';

export type Dimension = components['schemas']['Dimension'];
export type Breakdown = components['schemas']['Breakdown'];

/**
 * Dimensions the API keeps per path (GET /api/breakdown answers 400 for the others with a
 * `path`): where readers came from. Browsers, systems, devices, countries and the full referrer
 * are kept per site only.
 */
const PER_PATH: ReadonlySet<Dimension> = new Set<Dimension>(['referrer_host', 'utm_source', 'utm_medium', 'utm_campaign']);

/** Whether the API counts `by` per path. */
export function perPath(by: Dimension): boolean {
  return PER_PATH.has(by);
}

/** What to ask GET /api/breakdown for one dimension in the reader's scope, or why it cannot be asked. */
export type BreakdownAsk =
  | { ok: true; query: { by: Dimension; host?: string; path?: string }; wholeSite: boolean }
  | { ok: false; why: string };

/**
 * The query for `by` in a scope (`host` null: every site; `path` null: the whole site). A path is
 * sent only where the API counts it; elsewhere the card shows the whole site and says so
 * (`wholeSite`). The full referrer needs a site (the API answers 400 without one).
 */
export function breakdownAsk(by: Dimension, host: string | null, path: string | null): BreakdownAsk {
  if (by === 'referrer' && host === null) return { ok: false, why: 'Pick a site to see its full referrers.' };
  const query: { by: Dimension; host?: string; path?: string } = { by };
  if (host !== null) query.host = host;
  const pathKept = path !== null && perPath(by);
  if (pathKept) query.path = path;
  return { ok: true, query, wholeSite: path !== null && !pathKept };
}

/** One row of a card: a value, or what the values left out add up to. */
export interface Row {
  key: string;
  label: string;
  views: number;
  visitors: number;
  /** `value`: a value of the dimension; `unknown`: views without one; `others`: values beyond the limit. */
  kind: 'value' | 'unknown' | 'others';
  /** The value itself (the path, for top pages), for a title and for filtering. */
  value?: string;
}

/** How a card names views without a value of `by`. */
export function unknownLabel(by: Dimension): string {
  switch (by) {
    case 'referrer_host':
    case 'referrer':
      return 'Direct or unknown';
    case 'utm_source':
    case 'utm_medium':
    case 'utm_campaign':
      return 'No campaign';
    default:
      return 'Unknown';
  }
}

/** How a card shows a value: country codes by their name ("Germany (DE)"), device classes capitalised. */
export function valueLabel(by: Dimension, value: string, locale?: string): string {
  if (by === 'country' && /^[A-Z]{2}$/.test(value)) {
    try {
      const name = new Intl.DisplayNames(locale ? [locale] : undefined, { type: 'region', fallback: 'none' }).of(value);
      return name ? `${name} (${value})` : value;
    } catch {
      return value;
    }
  }
  if (by === 'device') return value.charAt(0).toUpperCase() + value.slice(1);
  return value;
}

/**
 * The rows of a breakdown: its values, most viewed first, then the views without a value and
 * the values beyond the limit, each only when it has views. Nothing is hidden: the rows add up
 * to every view in the scope.
 */
export function breakdownRows(b: Breakdown, locale?: string): Row[] {
  const rows: Row[] = b.values.map((v) => ({
    key: `v:${v.value}`,
    label: valueLabel(b.by, v.value, locale),
    value: v.value,
    views: v.views,
    visitors: v.visitors,
    kind: 'value',
  }));
  if (b.unknown.views > 0) rows.push({ key: 'unknown', label: unknownLabel(b.by), views: b.unknown.views, visitors: b.unknown.visitors, kind: 'unknown' });
  if (b.others.views > 0) rows.push({ key: 'others', label: 'All other values', views: b.others.views, visitors: b.others.visitors, kind: 'others' });
  return rows;
}

const DAY_MS = 86_400_000;

/**
 * The whole UTC days a breakdown of [from, to) counts: from rounded down and to rounded up to
 * UTC midnights, as GET /api/breakdown does (breakdowns are kept per UTC day).
 */
export function utcDayRange(from: string, to: string): { from: string; to: string } {
  const f = Math.floor(Date.parse(from) / DAY_MS) * DAY_MS;
  const t = Math.ceil(Date.parse(to) / DAY_MS) * DAY_MS;
  return { from: new Date(f).toISOString(), to: new Date(t).toISOString() };
}

/**
 * The whole UTC days a breakdown covers, [from, to) at UTC midnights: "26 Nov" for one day,
 * "25 Nov – 26 Nov" for more (to is exclusive, so the last day is the one before it).
 */
export function utcDaysLabel(from: string, to: string, locale?: string): string {
  const f = new Intl.DateTimeFormat(locale, { timeZone: 'UTC', day: 'numeric', month: 'short' });
  const start = Date.parse(from);
  const last = Date.parse(to) - 86_400_000;
  if (Number.isNaN(start) || Number.isNaN(last)) return '';
  if (last <= start) return f.format(start);
  return `${f.format(start)} – ${f.format(last)}`;
}
