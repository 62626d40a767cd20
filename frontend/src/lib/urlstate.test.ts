import { describe, expect, it } from 'vitest';
import { DEFAULT_STATE, parseState, queryValue, scopeQuery, stateSearch, type PageState } from './urlstate';

describe('parseState', () => {
  it('is the default state without a query', () => {
    expect(parseState('')).toEqual(DEFAULT_STATE);
    expect(parseState('?')).toEqual({ host: null, path: null, range: '24h', bucket: 'hour' });
  });
  it('tells every site (no host) from the default site (host=)', () => {
    expect(parseState('?range=7d').host).toBeNull();
    expect(parseState('?host=').host).toBe('');
    expect(parseState('?host').host).toBe('');
    expect(parseState('?host=blog.example.com').host).toBe('blog.example.com');
  });
  it('lower-cases and trims the host as the server does', () => {
    expect(parseState('?host=%20Blog.Example.COM%20').host).toBe('blog.example.com');
  });
  it('reads a path with or without escaped slashes', () => {
    expect(parseState('?path=/blog/a%20b').path).toBe('/blog/a b');
    expect(parseState('?path=%2Fblog%2Fhello').path).toBe('/blog/hello');
    expect(parseState('?path=/c%2B%2B').path).toBe('/c++');
  });
  it('gives each range its own bucket unless one is chosen', () => {
    expect(parseState('?range=30d')).toMatchObject({ range: '30d', bucket: 'day' });
    expect(parseState('?range=7d')).toMatchObject({ range: '7d', bucket: 'hour' });
    expect(parseState('?range=30d&bucket=hour')).toMatchObject({ range: '30d', bucket: 'hour' });
    expect(parseState('?bucket=day')).toMatchObject({ range: '24h', bucket: 'day' });
  });
  it('leaves out what the API would refuse and ignores unknown parameters', () => {
    expect(parseState('?range=1y&bucket=minute&path=blog&utm_source=x')).toEqual(DEFAULT_STATE);
    expect(parseState(`?path=/${'a'.repeat(512)}`).path).toBeNull();
    expect(parseState(`?path=/${'a'.repeat(511)}`).path).toHaveLength(512);
    expect(parseState(`?host=${'h'.repeat(254)}`).host).toBeNull();
  });
  it('takes the first of repeated parameters', () => {
    expect(parseState('?host=a.example&host=b.example').host).toBe('a.example');
  });
});

describe('stateSearch', () => {
  it('is empty for the default state', () => {
    expect(stateSearch(DEFAULT_STATE)).toBe('');
  });
  it('writes only what differs from the defaults, in a fixed order', () => {
    expect(stateSearch({ host: 'blog.example.com', path: '/post', range: '30d', bucket: 'day' })).toBe('?host=blog.example.com&path=/post&range=30d');
    expect(stateSearch({ host: null, path: null, range: '30d', bucket: 'hour' })).toBe('?range=30d&bucket=hour');
    expect(stateSearch({ host: null, path: null, range: '24h', bucket: 'day' })).toBe('?bucket=day');
  });
  it('writes the default site as host=', () => {
    expect(stateSearch({ ...DEFAULT_STATE, host: '' })).toBe('?host=');
  });
  it('round-trips every state, odd characters included', () => {
    const states: PageState[] = [
      DEFAULT_STATE,
      { host: '', path: '/', range: '7d', bucket: 'day' },
      { host: 'xn--bcher-kva.example', path: '/a b/c&d=e?f#g+h%i', range: '30d', bucket: 'day' },
      { host: null, path: '/ü/(x)', range: '24h', bucket: 'hour' },
    ];
    for (const s of states) expect(parseState(stateSearch(s))).toEqual(s);
  });
});

describe('queryValue', () => {
  it('keeps slashes and escapes what would end the value or a Markdown link', () => {
    expect(queryValue('/README')).toBe('/README');
    expect(queryValue('/a b&c=d#e')).toBe('/a%20b%26c%3Dd%23e');
    expect(queryValue('/x)(y')).toBe('/x%29%28y');
  });
});

describe('scopeQuery', () => {
  it('sends host and path only when chosen, and host= for the default site', () => {
    expect(scopeQuery({ host: null, path: null })).toEqual({});
    expect(scopeQuery({ host: '', path: null })).toEqual({ host: '' });
    expect(scopeQuery({ host: 'a.example', path: '/p' })).toEqual({ host: 'a.example', path: '/p' });
    expect(scopeQuery({ host: null, path: '/p' })).toEqual({ path: '/p' });
  });
});
