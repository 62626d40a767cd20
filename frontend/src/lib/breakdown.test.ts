import { describe, expect, it } from 'vitest';
import { breakdownAsk, breakdownRows, perPath, unknownLabel, utcDayRange, utcDaysLabel, valueLabel, type Breakdown, type Dimension } from './breakdown';

const ALL: Dimension[] = ['referrer_host', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'browser', 'os', 'device', 'country'];

describe('perPath', () => {
  it('is true exactly for the dimensions the API keeps per path', () => {
    expect(ALL.filter(perPath)).toEqual(['referrer_host', 'utm_source', 'utm_medium', 'utm_campaign']);
  });
});

describe('breakdownAsk', () => {
  it('asks for every host when none is chosen, and for the default site with host=', () => {
    expect(breakdownAsk('browser', null, null)).toEqual({ ok: true, query: { by: 'browser' }, wholeSite: false });
    expect(breakdownAsk('browser', '', null)).toEqual({ ok: true, query: { by: 'browser', host: '' }, wholeSite: false });
  });
  it('sends a path only where the API counts per path', () => {
    expect(breakdownAsk('referrer_host', 'a.example', '/p')).toEqual({ ok: true, query: { by: 'referrer_host', host: 'a.example', path: '/p' }, wholeSite: false });
    expect(breakdownAsk('utm_campaign', null, '/p')).toEqual({ ok: true, query: { by: 'utm_campaign', path: '/p' }, wholeSite: false });
    for (const by of ['referrer', 'browser', 'os', 'device', 'country'] as const) {
      const ask = breakdownAsk(by, 'a.example', '/p');
      expect(ask).toEqual({ ok: true, query: { by, host: 'a.example' }, wholeSite: true });
    }
  });
  it('never asks for the full referrer without a site (the API answers 400)', () => {
    expect(breakdownAsk('referrer', null, null)).toEqual({ ok: false, why: 'Pick a site to see its full referrers.' });
    expect(breakdownAsk('referrer', '', null)).toMatchObject({ ok: true, query: { by: 'referrer', host: '' } });
  });
});

const base: Omit<Breakdown, 'by' | 'values' | 'others' | 'unknown'> = { from: '2026-11-25T00:00:00Z', to: '2026-11-27T00:00:00Z' };

describe('breakdownRows', () => {
  it('lists the values, then the views without a value, then the rest, each with visitors', () => {
    const rows = breakdownRows({
      ...base,
      by: 'referrer_host',
      values: [
        { value: 'news.example', views: 5, visitors: 3 },
        { value: 'www.google.com', views: 2, visitors: 2 },
      ],
      unknown: { views: 7, visitors: 4 },
      others: { views: 1, visitors: 1 },
    });
    expect(rows.map((r) => [r.kind, r.label, r.views, r.visitors])).toEqual([
      ['value', 'news.example', 5, 3],
      ['value', 'www.google.com', 2, 2],
      ['unknown', 'Direct or unknown', 7, 4],
      ['others', 'All other values', 1, 1],
    ]);
    expect(new Set(rows.map((r) => r.key)).size).toBe(rows.length);
  });
  it('leaves out unknown and others only when they have no views', () => {
    const rows = breakdownRows({ ...base, by: 'browser', values: [], unknown: { views: 0, visitors: 0 }, others: { views: 0, visitors: 0 } });
    expect(rows).toEqual([]);
    const onlyUnknown = breakdownRows({ ...base, by: 'country', values: [], unknown: { views: 3, visitors: 1 }, others: { views: 0, visitors: 0 } });
    expect(onlyUnknown).toEqual([{ key: 'unknown', label: 'Unknown', views: 3, visitors: 1, kind: 'unknown' }]);
  });
  it('names countries and devices for people', () => {
    const rows = breakdownRows(
      { ...base, by: 'country', values: [{ value: 'DE', views: 1, visitors: 1 }], unknown: { views: 0, visitors: 0 }, others: { views: 0, visitors: 0 } },
      'en',
    );
    expect(rows[0]).toMatchObject({ label: 'Germany (DE)', value: 'DE' });
  });
});

describe('valueLabel and unknownLabel', () => {
  it('shows values as the reader expects', () => {
    expect(valueLabel('country', 'IN', 'en')).toBe('India (IN)');
    expect(valueLabel('country', 'not-a-code', 'en')).toBe('not-a-code');
    expect(valueLabel('device', 'mobile')).toBe('Mobile');
    expect(valueLabel('browser', 'Samsung Internet')).toBe('Samsung Internet');
    expect(valueLabel('referrer', 'https://news.example/item?id=1')).toBe('https://news.example/item?id=1');
  });
  it('names views without a value by what is missing', () => {
    expect(unknownLabel('referrer_host')).toBe('Direct or unknown');
    expect(unknownLabel('referrer')).toBe('Direct or unknown');
    expect(unknownLabel('utm_medium')).toBe('No campaign');
    expect(unknownLabel('os')).toBe('Unknown');
    expect(unknownLabel('country')).toBe('Unknown');
  });
});

describe('utcDayRange', () => {
  it('rounds out to UTC midnights as the breakdowns do', () => {
    expect(utcDayRange('2026-11-25T15:00:00.000Z', '2026-11-26T15:00:00.000Z')).toEqual({
      from: '2026-11-25T00:00:00.000Z',
      to: '2026-11-27T00:00:00.000Z',
    });
  });
  it('keeps midnights as they are', () => {
    expect(utcDayRange('2026-11-25T00:00:00.000Z', '2026-11-27T00:00:00.000Z')).toEqual({
      from: '2026-11-25T00:00:00.000Z',
      to: '2026-11-27T00:00:00.000Z',
    });
  });
  it('widens local days to the UTC days they touch', () => {
    // 30 days in Asia/Kolkata start and end at 18:30 UTC.
    expect(utcDayRange('2026-10-27T18:30:00.000Z', '2026-11-26T18:30:00.000Z')).toEqual({
      from: '2026-10-27T00:00:00.000Z',
      to: '2026-11-27T00:00:00.000Z',
    });
  });
});

describe('utcDaysLabel', () => {
  it('names the UTC days of [from, to), the last one before to', () => {
    expect(utcDaysLabel('2026-11-25T00:00:00Z', '2026-11-27T00:00:00Z', 'en-GB')).toBe('25 Nov – 26 Nov');
    expect(utcDaysLabel('2026-10-28T00:00:00Z', '2026-11-27T00:00:00Z', 'en-GB')).toBe('28 Oct – 26 Nov');
  });
  it('names one day once', () => {
    expect(utcDaysLabel('2026-11-26T00:00:00Z', '2026-11-27T00:00:00Z', 'en-GB')).toBe('26 Nov');
  });
  it('uses UTC whatever the local zone', () => {
    // Midnight UTC is still 25 Nov in New York: the label must not move with the machine's zone.
    expect(utcDaysLabel('2026-11-26T00:00:00+00:00', '2026-11-27T00:00:00Z', 'en-US')).toBe('Nov 26');
  });
  it('says nothing for unparsable times', () => {
    expect(utcDaysLabel('nonsense', '2026-11-27T00:00:00Z')).toBe('');
  });
});
