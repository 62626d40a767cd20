import { describe, expect, it } from 'vitest';
import { badgePathProblem, buildSnippets, DEFAULT_BADGE_PATH } from './snippets';

describe('buildSnippets', () => {
  it('builds the three snippets from the origin, exactly as documented', () => {
    const s = buildSnippets('https://prawn.example.com');
    expect(s.script).toBe('<script async src="https://prawn.example.com/count.js"></script>');
    expect(s.pixel).toBe('<noscript><img src="https://prawn.example.com/api/views.gif?path=/x" alt=""></noscript>');
    expect(s.badge).toBe('![views](https://prawn.example.com/api/badge.svg?path=/README&record=true)');
    expect(s.previewSrc).toBe('https://prawn.example.com/api/badge.svg?path=/README');
  });
  it('keeps a port and drops a trailing slash of the origin', () => {
    const s = buildSnippets('http://127.0.0.1:8080/');
    expect(s.script).toBe('<script async src="http://127.0.0.1:8080/count.js"></script>');
    expect(s.previewSrc).toBe('http://127.0.0.1:8080/api/badge.svg?path=/README');
  });
  it('counts /README unless told another path', () => {
    expect(DEFAULT_BADGE_PATH).toBe('/README');
    expect(buildSnippets('https://p.example', '/docs/intro').badge).toBe('![views](https://p.example/api/badge.svg?path=/docs/intro&record=true)');
  });
  it('escapes a path so that it stays one parameter and one Markdown link', () => {
    const s = buildSnippets('https://p.example', '/a b&record=false)(x');
    expect(s.badge).toBe('![views](https://p.example/api/badge.svg?path=/a%20b%26record%3Dfalse%29%28x&record=true)');
    expect(s.previewSrc).toBe('https://p.example/api/badge.svg?path=/a%20b%26record%3Dfalse%29%28x');
    expect(new URL(s.previewSrc).searchParams.get('path')).toBe('/a b&record=false)(x');
    expect(new URL(s.previewSrc).searchParams.has('record')).toBe(false);
  });
  it('never records from the preview', () => {
    expect(buildSnippets('https://p.example').previewSrc).not.toContain('record');
  });
});

describe('badgePathProblem', () => {
  it('accepts paths the API accepts', () => {
    expect(badgePathProblem('/README')).toBeUndefined();
    expect(badgePathProblem('/')).toBeUndefined();
    expect(badgePathProblem('/' + 'a'.repeat(511))).toBeUndefined();
  });
  it('says what to fix otherwise', () => {
    expect(badgePathProblem('README')).toMatch(/starts with “\/”/);
    expect(badgePathProblem('')).toMatch(/starts with/);
    expect(badgePathProblem('/' + 'a'.repeat(512))).toMatch(/at most 512/);
    expect(badgePathProblem('/a\nb')).toMatch(/control characters/);
  });
});
