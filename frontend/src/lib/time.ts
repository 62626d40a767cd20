// Ranges, buckets and time-zone arithmetic for the chart. Pure functions: the
// tests pass `now`, the time zone and the locale explicitly.

import type { components } from '../api/schema';

export type Bucket = components['schemas']['Stats']['bucket'];
export type SeriesPoint = components['schemas']['Bucket'];

/** The ranges the page offers, with the bucket each uses unless the visitor picks another. */
export const RANGES = [
  { key: '24h', label: '24 h', longLabel: 'last 24 hours', hours: 24, bucket: 'hour' },
  { key: '7d', label: '7 d', longLabel: 'last 7 days', hours: 7 * 24, bucket: 'hour' },
  { key: '30d', label: '30 d', longLabel: 'last 30 days', hours: 30 * 24, bucket: 'day' },
] as const satisfies readonly { key: string; label: string; longLabel: string; hours: number; bucket: Bucket }[];

export type RangeKey = (typeof RANGES)[number]['key'];

const HOUR_MS = 3_600_000;

/** The range definition for a key. */
export function rangeOf(key: RangeKey): (typeof RANGES)[number] {
  const r = RANGES.find((x) => x.key === key);
  if (!r) throw new Error(`unknown range ${key}`);
  return r;
}

/** The query a range sends to GET /api/stats and GET /api/pages. */
export interface RangeQuery {
  from: string;
  to: string;
  bucket: Bucket;
  tz?: string;
}

/**
 * The [from, to) of a range ending now. Hourly ranges end at the next full hour
 * so the current hour is a whole bucket; daily ranges send `tz` so the server
 * cuts days at the visitor's midnights.
 */
export function rangeQuery(key: RangeKey, bucket: Bucket, now: Date, tz: string): RangeQuery {
  const { hours } = rangeOf(key);
  if (bucket === 'hour') {
    const end = Math.ceil(now.getTime() / HOUR_MS) * HOUR_MS;
    const to = end === now.getTime() ? end + HOUR_MS : end;
    return { from: new Date(to - hours * HOUR_MS).toISOString(), to: new Date(to).toISOString(), bucket };
  }
  const days = hours / 24;
  const today = wallDate(now, tz);
  const from = zonedMidnight(today.y, today.m, today.d - (days - 1), tz);
  const to = zonedMidnight(today.y, today.m, today.d + 1, tz);
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), bucket, tz };
}

/** The calendar date of an instant in a time zone (m is 1-based). */
export function wallDate(t: Date, tz: string): { y: number; m: number; d: number } {
  const p = wallParts(t.getTime(), tz);
  return { y: p.y, m: p.m, d: p.d };
}

interface WallParts {
  y: number;
  m: number;
  d: number;
  h: number;
  min: number;
  s: number;
}

const partFormatters = new Map<string, Intl.DateTimeFormat>();

function wallParts(ms: number, tz: string): WallParts {
  let f = partFormatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    partFormatters.set(tz, f);
  }
  const out: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(ms))) {
    if (part.type !== 'literal') out[part.type] = Number(part.value);
  }
  return { y: out.year ?? 0, m: out.month ?? 0, d: out.day ?? 0, h: out.hour ?? 0, min: out.minute ?? 0, s: out.second ?? 0 };
}

/** The offset of a time zone from UTC at an instant, in milliseconds (Berlin in winter: +3_600_000). */
export function tzOffsetMs(ms: number, tz: string): number {
  const p = wallParts(ms, tz);
  const asUTC = Date.UTC(p.y, p.m - 1, p.d, p.h, p.min, p.s);
  return asUTC - Math.floor(ms / 1000) * 1000;
}

/** The instant (ms) of midnight starting the given calendar day in a time zone; day overflow rolls over months. */
export function zonedMidnight(y: number, m: number, d: number, tz: string): number {
  const wall = Date.UTC(y, m - 1, d);
  let t = wall - tzOffsetMs(wall, tz);
  // A second pass settles days whose offset differs from the guess's (DST changes).
  t = wall - tzOffsetMs(t, tz);
  return t;
}

/** The bucket starts (ms) covering [from, to): every hour, or every midnight in tz. */
export function bucketStarts(from: Date, to: Date, bucket: Bucket, tz: string): number[] {
  const starts: number[] = [];
  const end = to.getTime();
  if (bucket === 'hour') {
    for (let t = Math.floor(from.getTime() / HOUR_MS) * HOUR_MS; t < end; t += HOUR_MS) starts.push(t);
    return starts;
  }
  const first = wallDate(from, tz);
  for (let i = 0; ; i++) {
    const t = zonedMidnight(first.y, first.m, first.d + i, tz);
    if (t >= end) break;
    starts.push(t); // the first is from's midnight: the server rounds from down the same way
    if (i > 400) break; // a bounded loop whatever the input
  }
  return starts;
}

/**
 * The chart's columns: every bucket of [from, to) with its views and visitors, 0 where the
 * server sent none, plus any point the server sent off that grid (kept, never lost).
 * Times are Unix seconds, as uPlot wants them.
 */
export function fillSeries(
  series: readonly SeriesPoint[],
  from: string,
  to: string,
  bucket: Bucket,
  tz: string,
): { times: number[]; views: number[]; visitors: number[] } {
  const byStart = new Map<number, { views: number; visitors: number }>();
  for (const start of bucketStarts(new Date(from), new Date(to), bucket, tz)) byStart.set(start, { views: 0, visitors: 0 });
  for (const p of series) {
    const t = Date.parse(p.start);
    if (Number.isNaN(t)) continue;
    const c = byStart.get(t) ?? { views: 0, visitors: 0 };
    byStart.set(t, { views: c.views + p.views, visitors: c.visitors + p.visitors });
  }
  const times = [...byStart.keys()].sort((a, b) => a - b);
  return {
    times: times.map((t) => t / 1000),
    views: times.map((t) => byStart.get(t)?.views ?? 0),
    visitors: times.map((t) => byStart.get(t)?.visitors ?? 0),
  };
}
