import { describe, expect, it } from 'vitest';
import { bucketLabel, chartTitle, formatCount, hostLabel, tickLabels, timeZoneLabel, updatedAgo } from './format';

describe('updatedAgo', () => {
  const now = new Date('2026-11-26T14:00:00Z');
  const ago = (s: number) => updatedAgo(new Date(now.getTime() - s * 1000), now);
  it('says how long ago in words', () => {
    expect(ago(0)).toBe('updated just now');
    expect(ago(4)).toBe('updated just now');
    expect(ago(40)).toBe('updated 40 s ago');
    expect(ago(59)).toBe('updated 59 s ago');
    expect(ago(60)).toBe('updated 1 min ago');
    expect(ago(3599)).toBe('updated 59 min ago');
    expect(ago(3600)).toBe('updated 1 h ago');
    expect(ago(47 * 3600)).toBe('updated 47 h ago');
    expect(ago(3 * 86400)).toBe('updated 3 d ago');
  });
  it('treats an asOf ahead of the local clock as just now', () => {
    expect(ago(-30)).toBe('updated just now');
  });
  it('copes with an unparsable time', () => {
    expect(updatedAgo(new Date('nonsense'), now)).toBe('update time unknown');
  });
});

describe('timeZoneLabel', () => {
  it('names the zone and its offset at that date', () => {
    expect(timeZoneLabel('Europe/Berlin', new Date('2026-01-15T12:00:00Z'))).toBe('Europe/Berlin (UTC+1)');
    expect(timeZoneLabel('Europe/Berlin', new Date('2026-07-15T12:00:00Z'))).toBe('Europe/Berlin (UTC+2)');
    expect(timeZoneLabel('Asia/Kolkata', new Date('2026-07-15T12:00:00Z'))).toBe('Asia/Kolkata (UTC+5:30)');
    expect(timeZoneLabel('UTC', new Date('2026-07-15T12:00:00Z'))).toBe('UTC');
    expect(timeZoneLabel('America/St_Johns', new Date('2026-01-15T12:00:00Z'))).toBe('America/St_Johns (UTC−3:30)');
  });
});

describe('bucketLabel', () => {
  const t = Date.parse('2026-11-26T13:00:00Z') / 1000;
  it('labels hours in the given zone', () => {
    expect(bucketLabel(t, 'hour', 'Europe/Berlin', 'en-GB')).toBe('Thu 26 Nov, 14:00');
    expect(bucketLabel(t, 'hour', 'Asia/Kolkata', 'en-GB')).toBe('Thu 26 Nov, 18:30');
  });
  it('labels days by their date in the zone', () => {
    expect(bucketLabel(Date.parse('2026-11-25T23:00:00Z') / 1000, 'day', 'Europe/Berlin', 'en-GB')).toBe('Thu 26 Nov');
  });
});

describe('formatCount and chartTitle', () => {
  it('groups digits', () => {
    expect(formatCount(1234567, 'en-US')).toBe('1,234,567');
  });
  it('names the bucket', () => {
    expect(chartTitle('hour')).toBe('Views and visitors per hour');
    expect(chartTitle('day')).toBe('Views and visitors per day');
  });
});

describe('tickLabels', () => {
  const at = (iso: string) => Date.parse(iso) / 1000;
  it('shows times, with the date under the first tick of each day in the zone', () => {
    const splits = [at('2026-11-26T16:30:00Z'), at('2026-11-26T18:30:00Z'), at('2026-11-26T20:30:00Z')];
    // 22:00, 00:00 and 02:00 in Kolkata: the day changes at the second tick.
    expect(tickLabels(splits, 7200, 'Asia/Kolkata', 'en-GB')).toEqual(['22:00\n26 Nov', '00:00\n27 Nov', '02:00']);
  });
  it('shows dates alone when ticks are days apart', () => {
    const splits = [at('2026-11-25T23:00:00Z'), at('2026-11-27T23:00:00Z')];
    expect(tickLabels(splits, 2 * 86400, 'Europe/Berlin', 'en-GB')).toEqual(['26 Nov', '28 Nov']);
  });
});

describe('hostLabel', () => {
  it('names every site, the default site and a host', () => {
    expect(hostLabel(null)).toBe('every site');
    expect(hostLabel('')).toBe('default site');
    expect(hostLabel('blog.example.com')).toBe('blog.example.com');
  });
});
