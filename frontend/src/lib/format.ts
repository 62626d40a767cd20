// Words and numbers the page shows. Pure functions; tests pass locale and zone.

import { tzOffsetMs, type Bucket } from './time';

/** "updated 40 s ago" for the rollups' asOf, relative to now. */
export function updatedAgo(asOf: Date, now: Date): string {
  const s = Math.round((now.getTime() - asOf.getTime()) / 1000);
  if (Number.isNaN(s)) return 'update time unknown';
  if (s < 5) return 'updated just now';
  if (s < 60) return `updated ${s} s ago`;
  const min = Math.floor(s / 60);
  if (min < 60) return `updated ${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 48) return `updated ${h} h ago`;
  return `updated ${Math.floor(h / 24)} d ago`;
}

/** A count with the locale's digit grouping: 12,345. */
export function formatCount(n: number, locale?: string): string {
  return new Intl.NumberFormat(locale).format(n);
}

/** "Europe/Berlin (UTC+1)": the zone's name and its offset at the given instant. */
export function timeZoneLabel(tz: string, at: Date): string {
  const min = Math.round(tzOffsetMs(at.getTime(), tz) / 60_000);
  if (min === 0) return tz === 'UTC' ? 'UTC' : `${tz} (UTC)`;
  const sign = min < 0 ? '−' : '+';
  const h = Math.floor(Math.abs(min) / 60);
  const m = Math.abs(min) % 60;
  return `${tz} (UTC${sign}${h}${m ? `:${String(m).padStart(2, '0')}` : ''})`;
}

/** The label of one bucket: "Thu, 26 Nov, 14:00" for hours, "Thu, 26 Nov" for days. */
export function bucketLabel(unixSeconds: number, bucket: Bucket, tz: string, locale?: string): string {
  const opts: Intl.DateTimeFormatOptions =
    bucket === 'hour'
      ? { timeZone: tz, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }
      : { timeZone: tz, weekday: 'short', day: 'numeric', month: 'short' };
  return new Intl.DateTimeFormat(locale, opts).format(new Date(unixSeconds * 1000));
}

/** The chart's heading for a bucket width. */
export function chartTitle(bucket: Bucket): string {
  return bucket === 'hour' ? 'Views and visitors per hour' : 'Views and visitors per day';
}

/** How the page names a site: its hostname, "default site" for "" (views recorded without a host), "every site" for none chosen. */
export function hostLabel(host: string | null): string {
  if (host === null) return 'every site';
  return host === '' ? 'default site' : host;
}


/**
 * The chart's x-axis labels: dates when ticks are a day or more apart, else
 * times ("14:00"), with the date under the first tick of each day.
 */
export function tickLabels(splits: readonly number[], incrSeconds: number, tz: string, locale?: string): string[] {
  const day = new Intl.DateTimeFormat(locale, { timeZone: tz, day: 'numeric', month: 'short' });
  const time = new Intl.DateTimeFormat(locale, { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  let prevDay = '';
  return splits.map((t) => {
    const d = day.format(new Date(t * 1000));
    if (incrSeconds >= 86_400) return d;
    const label = d !== prevDay ? `${time.format(new Date(t * 1000))}\n${d}` : time.format(new Date(t * 1000));
    prevDay = d;
    return label;
  });
}
