import { describe, expect, it } from 'vitest';
import { bucketStarts, fillSeries, rangeQuery, tzOffsetMs, zonedMidnight } from './time';

const iso = (ms: number) => new Date(ms).toISOString();

describe('tzOffsetMs', () => {
  it('knows winter and summer offsets', () => {
    expect(tzOffsetMs(Date.parse('2026-01-15T12:00:00Z'), 'Europe/Berlin')).toBe(3_600_000);
    expect(tzOffsetMs(Date.parse('2026-07-15T12:00:00Z'), 'Europe/Berlin')).toBe(7_200_000);
    expect(tzOffsetMs(Date.parse('2026-07-15T12:00:00Z'), 'Asia/Kolkata')).toBe(19_800_000);
    expect(tzOffsetMs(Date.parse('2026-07-15T12:00:00Z'), 'UTC')).toBe(0);
  });
});

describe('zonedMidnight', () => {
  it('finds midnight in a zone', () => {
    expect(iso(zonedMidnight(2026, 11, 26, 'Europe/Berlin'))).toBe('2026-11-25T23:00:00.000Z');
    expect(iso(zonedMidnight(2026, 11, 26, 'America/New_York'))).toBe('2026-11-26T05:00:00.000Z');
    expect(iso(zonedMidnight(2026, 11, 26, 'Asia/Kolkata'))).toBe('2026-11-25T18:30:00.000Z');
  });
  it('rolls day overflow into the next month', () => {
    expect(iso(zonedMidnight(2026, 11, 31, 'UTC'))).toBe('2026-12-01T00:00:00.000Z');
    expect(iso(zonedMidnight(2026, 3, 0, 'UTC'))).toBe('2026-02-28T00:00:00.000Z');
  });
  it('uses the offset of the day itself around DST changes', () => {
    // Berlin moves to summer time on 29 March 2026: that midnight is still winter time,
    // the next one summer time.
    expect(iso(zonedMidnight(2026, 3, 29, 'Europe/Berlin'))).toBe('2026-03-28T23:00:00.000Z');
    expect(iso(zonedMidnight(2026, 3, 30, 'Europe/Berlin'))).toBe('2026-03-29T22:00:00.000Z');
  });
});

describe('rangeQuery', () => {
  const now = new Date('2026-11-26T14:25:10Z');
  it('ends hourly ranges at the next full hour', () => {
    expect(rangeQuery('24h', 'hour', now, 'Europe/Berlin')).toEqual({
      from: '2026-11-25T15:00:00.000Z',
      to: '2026-11-26T15:00:00.000Z',
      bucket: 'hour',
    });
  });
  it('includes the current hour when now is on the hour', () => {
    const q = rangeQuery('24h', 'hour', new Date('2026-11-26T14:00:00Z'), 'UTC');
    expect(q.to).toBe('2026-11-26T15:00:00.000Z');
  });
  it('covers 7 days of hours', () => {
    const q = rangeQuery('7d', 'hour', now, 'UTC');
    expect(Date.parse(q.to) - Date.parse(q.from)).toBe(7 * 24 * 3_600_000);
  });
  it('cuts daily ranges at the visitor’s midnights and sends tz', () => {
    expect(rangeQuery('30d', 'day', now, 'Asia/Kolkata')).toEqual({
      from: '2026-10-27T18:30:00.000Z', // 28 Oct 00:00 IST
      to: '2026-11-26T18:30:00.000Z', // 27 Nov 00:00 IST
      bucket: 'day',
      tz: 'Asia/Kolkata',
    });
  });
  it('counts today in the visitor’s zone, not UTC', () => {
    // 23:30 UTC on 26 Nov is already 27 Nov in Tokyo.
    const q = rangeQuery('7d', 'day', new Date('2026-11-26T23:30:00Z'), 'Asia/Tokyo');
    expect(q.to).toBe('2026-11-27T15:00:00.000Z'); // 28 Nov 00:00 JST
    expect(q.from).toBe('2026-11-20T15:00:00.000Z'); // 21 Nov 00:00 JST
  });
});

describe('bucketStarts', () => {
  it('steps hours', () => {
    const s = bucketStarts(new Date('2026-11-26T10:00:00Z'), new Date('2026-11-26T13:00:00Z'), 'hour', 'UTC');
    expect(s.map(iso)).toEqual(['2026-11-26T10:00:00.000Z', '2026-11-26T11:00:00.000Z', '2026-11-26T12:00:00.000Z']);
  });
  it('steps days of 23 and 25 hours across DST changes', () => {
    const s = bucketStarts(new Date('2026-10-23T22:00:00Z'), new Date('2026-10-26T23:00:00Z'), 'day', 'Europe/Berlin');
    expect(s.map(iso)).toEqual([
      '2026-10-23T22:00:00.000Z', // 24 Oct
      '2026-10-24T22:00:00.000Z', // 25 Oct: 25 hours long
      '2026-10-25T23:00:00.000Z', // 26 Oct
    ]);
  });
});

describe('fillSeries', () => {
  it('fills missing buckets with 0 and keeps the server’s counts', () => {
    const out = fillSeries(
      [
        { start: '2026-11-26T10:00:00Z', views: 3, visitors: 2 },
        { start: '2026-11-26T12:00:00Z', views: 5, visitors: 1 },
      ],
      '2026-11-26T10:00:00Z',
      '2026-11-26T14:00:00Z',
      'hour',
      'UTC',
    );
    expect(out.views).toEqual([3, 0, 5, 0]);
    expect(out.visitors).toEqual([2, 0, 1, 0]);
    expect(out.times).toEqual([0, 1, 2, 3].map((i) => Date.parse('2026-11-26T10:00:00Z') / 1000 + i * 3600));
  });
  it('keeps points off the grid instead of dropping them', () => {
    const out = fillSeries([{ start: '2026-11-26T10:30:00Z', views: 7, visitors: 4 }], '2026-11-26T10:00:00Z', '2026-11-26T11:00:00Z', 'hour', 'UTC');
    expect(out.views).toEqual([0, 7]);
    expect(out.visitors).toEqual([0, 4]);
  });
  it('fills daily buckets at local midnights', () => {
    const out = fillSeries(
      [{ start: '2026-11-25T23:00:00+00:00', views: 2, visitors: 1 }],
      '2026-11-24T23:00:00Z',
      '2026-11-26T23:00:00Z',
      'day',
      'Europe/Berlin',
    );
    expect(out.views).toEqual([0, 2]);
    expect(out.visitors).toEqual([0, 1]);
  });
  it('adds up points that fall into the same bucket', () => {
    const out = fillSeries(
      [
        { start: '2026-11-26T10:00:00Z', views: 1, visitors: 1 },
        { start: '2026-11-26T10:00:00.000Z', views: 2, visitors: 2 },
      ],
      '2026-11-26T10:00:00Z',
      '2026-11-26T11:00:00Z',
      'hour',
      'UTC',
    );
    expect(out).toEqual({ times: [Date.parse('2026-11-26T10:00:00Z') / 1000], views: [3], visitors: [3] });
  });
  it('gives an empty chart for an empty range', () => {
    expect(fillSeries([], '2026-11-26T10:00:00Z', '2026-11-26T10:00:00Z', 'hour', 'UTC')).toEqual({ times: [], views: [], visitors: [] });
  });
});
