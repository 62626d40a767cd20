import { lazy, useEffect, useId, useMemo, useState } from 'react';
import { api } from './api/client';
import { Chart } from './Chart';
import { CountList, type CountRow } from './CountList';
import { Later } from './Later';
import { bucketLabel, chartTitle, formatCount, hostLabel, timeZoneLabel, updatedAgo } from './lib/format';
import { fillSeries, RANGES, rangeOf, rangeQuery, type Bucket, type RangeKey } from './lib/time';
import { parseState, scopeQuery, stateSearch, type PageState } from './lib/urlstate';
import { useLoad, type Fetched, type Load } from './useLoad';
import type { components } from './api/schema';

type Home = components['schemas']['Home'];
type Stats = components['schemas']['Stats'];
type Pages = components['schemas']['Pages'];
type Hosts = components['schemas']['Hosts'];

// Below the first screen: their code loads when they come near it (see Later).
const Breakdowns = lazy(() => import('./Breakdowns'));
const Guide = lazy(() => import('./Guide'));

/** How often every number refreshes on its own while the page is visible. */
const REFRESH_MS = 60_000;

// GET /api/home records a view, so the page asks once per page load even when
// React runs effects twice (StrictMode in development) or remounts.
let homeOnce: Promise<Fetched<Home>> | undefined;
function loadHomeOnce(retry: number): Promise<Fetched<Home>> {
  if (!homeOnce || retry > 0) homeOnce = api.GET('/api/home');
  return homeOnce;
}

/** The visitor's IANA time zone; the chart shows times in it. */
const visitorTZ = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** The page's address for a state, keeping its path and fragment. */
function stateURL(s: PageState): string {
  return window.location.pathname + stateSearch(s) + window.location.hash;
}

/** prawn's page: the site picker, the counter, the chart, the top pages, the breakdowns, the snippets and how it all works. */
export function App() {
  const [homeRetry, setHomeRetry] = useState(0);
  const home = useLoad((_signal) => loadHomeOnce(homeRetry), [homeRetry]);

  // The reader's choice lives in the query string: a reload or a shared link shows the same view,
  // and Back returns to the previous choice.
  const [view, setView] = useState<PageState>(() => parseState(window.location.search));
  useEffect(() => {
    const onPop = () => setView(parseState(window.location.search));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const choose = (next: Partial<PageState>) => {
    const s = { ...view, ...next };
    const url = stateURL(s);
    if (url !== window.location.pathname + window.location.search + window.location.hash) window.history.pushState(null, '', url);
    setView(s);
  };

  const [tick, setTick] = useState(0); // bumps to refresh every number
  useEffect(() => {
    const id = window.setInterval(() => {
      if (document.visibilityState === 'visible') setTick((t) => t + 1);
    }, REFRESH_MS);
    return () => window.clearInterval(id);
  }, []);

  // The numbers wait for this visit's view to be committed, so the chart's total
  // and the headline agree on the first load.
  const homeSettled = home.state !== 'loading';
  const { host, path, range: rangeKey, bucket } = view;
  const range = useMemo(() => rangeQuery(rangeKey, bucket, new Date(), visitorTZ), [rangeKey, bucket, tick]);
  const stats = useLoad(
    (signal) => api.GET('/api/stats', { params: { query: { ...range, ...scopeQuery({ host, path }) } }, signal }),
    [range, host, path],
    homeSettled,
  );
  const pages = useLoad(
    (signal) => api.GET('/api/pages', { params: { query: { from: range.from, to: range.to, limit: 10, ...scopeQuery({ host, path: null }) } }, signal }),
    [range, host],
    homeSettled,
  );
  const [hostsRetry, setHostsRetry] = useState(0);
  const hosts = useLoad((signal) => api.GET('/api/hosts', { signal }), [tick, hostsRetry], homeSettled);

  const chooseRange = (key: RangeKey) => choose({ range: key, bucket: rangeOf(key).bucket });
  // The first screen is laid out once the chart and the top pages have answered.
  const firstScreenDone = stats.state !== 'loading' && pages.state !== 'loading';

  return (
    <>
      <header className="site-header">
        <p className="brand">
          <img src="/favicon.svg" alt="" width="24" height="24" /> prawn
        </p>
        <nav aria-label="Links">
          <a href="/api/docs">API reference</a>
        </nav>
      </header>
      <main>
        <ScopeBar view={view} hosts={hosts} onHost={(h) => choose({ host: h, path: null })} onWholeSite={() => choose({ path: null })} onRetry={() => setHostsRetry((r) => r + 1)} />

        <Headline home={home} hosts={hosts} host={host} onRetry={() => setHomeRetry((r) => r + 1)} />

        <section className="card" aria-labelledby="chart-title">
          <div className="card-head">
            <h2 id="chart-title">{chartTitle(bucket)}</h2>
            <Controls rangeKey={rangeKey} bucket={bucket} onRange={chooseRange} onBucket={(b) => choose({ bucket: b })} />
          </div>
          <StatsView stats={stats} bucket={bucket} rangeKey={rangeKey} onRetry={() => setTick((t) => t + 1)} />
        </section>

        <section className="card" aria-labelledby="pages-title">
          <h2 id="pages-title">Top pages, {rangeOf(rangeKey).longLabel}</h2>
          <TopPages
            pages={pages}
            view={view}
            onPage={(h, p) => choose(path === p && host === h ? { path: null } : { host: h, path: p })}
            onRetry={() => setTick((t) => t + 1)}
          />
        </section>

        <Later label="the breakdowns" ready={firstScreenDone} tall placeholder={<p className="muted">Loading where readers come from…</p>}>
          <Breakdowns host={host} path={path} from={range.from} to={range.to} tick={tick} enabled={homeSettled} />
        </Later>

        <Later label="how to add prawn to your site" ready={firstScreenDone} placeholder={<p className="muted">Loading how to add prawn to your site…</p>}>
          <Guide />
        </Later>
      </main>
      <footer className="site-footer">
        <p>
          prawn counts page views, to see how unpopular your project is. <a href="/api/docs">API reference</a> ·{' '}
          <a href="/api/openapi.yaml">OpenAPI document</a>
        </p>
      </footer>
    </>
  );
}

/** The value of the site picker's "every site" option; a host's is "=" and the host. */
const EVERY_SITE = '*';

/** The site picker and the page filter: what every number below counts. */
function ScopeBar(props: { view: PageState; hosts: Load<Hosts>; onHost: (host: string | null) => void; onWholeSite: () => void; onRetry: () => void }) {
  const id = useId();
  const { host, path } = props.view;
  const list = props.hosts.state === 'ok' ? props.hosts.data.hosts : [];
  const known = host === null || list.some((h) => h.host === host);
  return (
    <div className="scope-bar">
      <div className="field">
        <label htmlFor={id}>Site</label>
        <select
          id={id}
          data-testid="host-picker"
          value={host === null ? EVERY_SITE : `=${host}`}
          onChange={(e) => props.onHost(e.target.value === EVERY_SITE ? null : e.target.value.slice(1))}
        >
          <option value={EVERY_SITE}>All sites</option>
          {list.map((h) => (
            <option key={h.host} value={`=${h.host}`}>
              {hostLabel(h.host)} ({formatCount(h.views)} views)
            </option>
          ))}
          {!known && <option value={`=${host}`}>{hostLabel(host)} (no views yet)</option>}
        </select>
      </div>
      {path !== null && (
        <p className="filter" data-testid="path-filter">
          Only <code>{path}</code>
          {host !== null ? <> on {hostLabel(host)}</> : null}{' '}
          <button type="button" onClick={props.onWholeSite}>
            Show the whole site
          </button>
        </p>
      )}
      {props.hosts.state === 'error' && (
        <p className="error small" role="alert">
          Could not load the sites. {props.hosts.message}{' '}
          <button type="button" onClick={props.onRetry}>
            Try again
          </button>
        </p>
      )}
    </div>
  );
}

/** The all-time views and visitors of the chosen site (every site: the sum over sites). */
function Headline({ home, hosts, host, onRetry }: { home: Load<Home>; hosts: Load<Hosts>; host: string | null; onRetry: () => void }) {
  let views: number | undefined;
  let visitors: number | undefined;
  if (hosts.state === 'ok') {
    const rows = host === null ? hosts.data.hosts : hosts.data.hosts.filter((h) => h.host === host);
    views = rows.reduce((a, h) => a + h.views, 0);
    visitors = rows.reduce((a, h) => a + h.visitors, 0);
  }
  // Every site's views are known as soon as this visit is: GET /api/home answers them.
  if (host === null && views === undefined && home.state === 'ok') views = home.data.pageViews;
  const failed = home.state === 'error' || hosts.state === 'error';
  const shown = (n: number | undefined) => (n !== undefined ? formatCount(n) : failed ? '?' : '…');
  return (
    <section className="headline" aria-live="polite">
      <h1>
        Page views:{' '}
        <output data-testid="page-views" className={views === undefined ? 'muted' : ''}>
          {shown(views)}
        </output>
      </h1>
      <p className="visitors-line">
        Visitors:{' '}
        <output data-testid="visitors" className={visitors === undefined ? 'muted' : ''}>
          {shown(visitors)}
        </output>{' '}
        <span className="muted small" data-testid="headline-scope">
          all time, {hostLabel(host)} · a visitor counts once a day, without cookies
        </span>
      </p>
      {home.state === 'error' && (
        <p className="error" role="alert">
          Could not count this visit. {home.message}{' '}
          <button type="button" onClick={onRetry}>
            Try again
          </button>
        </p>
      )}
      {home.state === 'ok' && home.data.counted === false && (
        <p className="muted">This visit was not counted: the server took it for a bot or a prefetch.</p>
      )}
      {(home.state === 'loading' || (home.state === 'ok' && home.data.counted !== false)) && (
        <p className="muted">Loading this page counted one view of / on the default site.</p>
      )}
    </section>
  );
}

function Controls(props: {
  rangeKey: RangeKey;
  bucket: Bucket;
  onRange: (key: RangeKey) => void;
  onBucket: (b: Bucket) => void;
}) {
  const bucketId = useId();
  return (
    <div className="controls">
      <fieldset className="segmented">
        <legend>Range</legend>
        {RANGES.map((r) => (
          <label key={r.key}>
            <input
              type="radio"
              name="range"
              value={r.key}
              checked={props.rangeKey === r.key}
              onChange={() => props.onRange(r.key)}
            />
            <span>{r.label}</span>
          </label>
        ))}
      </fieldset>
      <div className="field">
        <label htmlFor={bucketId}>Buckets</label>
        <select id={bucketId} value={props.bucket} onChange={(e) => props.onBucket(e.target.value === 'day' ? 'day' : 'hour')}>
          <option value="hour">Hourly</option>
          <option value="day">Daily</option>
        </select>
      </div>
    </div>
  );
}

function StatsView({ stats, bucket, rangeKey, onRetry }: { stats: Load<Stats>; bucket: Bucket; rangeKey: RangeKey; onRetry: () => void }) {
  const filled = useMemo(
    () => (stats.state === 'ok' ? fillSeries(stats.data.series, stats.data.from, stats.data.to, stats.data.bucket, visitorTZ) : undefined),
    [stats],
  );
  if (stats.state === 'loading') {
    return (
      <div className="chart-box placeholder" aria-busy="true">
        <p className="muted">Loading the chart…</p>
      </div>
    );
  }
  if (stats.state === 'error') {
    return (
      <div className="chart-box placeholder" role="alert">
        <p className="error">Could not load the chart. {stats.message}</p>
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      </div>
    );
  }
  const s = stats.data;
  const inRange = filled ? filled.views.reduce((a, b) => a + b, 0) : 0;
  const shownBucket = s.bucket; // the answer's bucket: the select may already have moved on
  return (
    <>
      <p
        className="summary"
        data-testid="summary"
        // What the shown numbers count (the answer's scope: it lags the reader's choice while it loads).
        data-host={s.host ?? '*'}
        data-path={s.path ?? ''}
      >
        <strong data-testid="range-views">{formatCount(inRange)}</strong> views and{' '}
        <strong data-testid="range-visitors">{formatCount(s.visitors)}</strong> visitors in the {rangeOf(rangeKey).longLabel}
        {s.path !== undefined ? <> of {s.path}</> : null} · <span data-testid="all-time">{formatCount(s.total)}</span> views all time ·{' '}
        <Freshness asOf={s.asOf} />
        {s.pending ? <> · {formatCount(s.pending)} not yet rolled up</> : null}
      </p>
      {filled && inRange > 0 ? (
        <Chart times={filled.times} views={filled.views} visitors={filled.visitors} bucket={shownBucket} tz={visitorTZ} />
      ) : (
        <div className="chart-box placeholder" data-testid="chart-empty">
          <p className="muted">No views in this range yet. Views appear here as soon as they are recorded.</p>
        </div>
      )}
      <p className="muted small">
        Times in {timeZoneLabel(visitorTZ, new Date())}.{' '}
        {shownBucket === 'hour'
          ? 'Visitors of an hour are the distinct visitors of that hour.'
          : 'Visitors of a day count each reader once, on the day of their first view.'}
      </p>
      {filled && inRange > 0 && (
        <details>
          <summary>Show the numbers</summary>
          <table className="numbers">
            <caption className="visually-hidden">{chartTitle(bucket)}</caption>
            <thead>
              <tr>
                <th scope="col">{shownBucket === 'hour' ? 'Hour' : 'Day'}</th>
                <th scope="col">Views</th>
                <th scope="col">Visitors</th>
              </tr>
            </thead>
            <tbody>
              {filled.times.map((t, i) =>
                filled.views[i] ? (
                  <tr key={t}>
                    <td>{bucketLabel(t, shownBucket, visitorTZ)}</td>
                    <td>{formatCount(filled.views[i] ?? 0)}</td>
                    <td>{formatCount(filled.visitors[i] ?? 0)}</td>
                  </tr>
                ) : null,
              )}
            </tbody>
          </table>
        </details>
      )}
    </>
  );
}

/** "updated 40 s ago", re-rendered every second on its own so the chart is left alone. */
function Freshness({ asOf }: { asOf: string }) {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const id = window.setInterval(() => setNow(new Date()), 1000);
    return () => window.clearInterval(id);
  }, []);
  const at = new Date(asOf);
  return (
    <time dateTime={asOf} title={`Rollups are complete up to ${at.toLocaleString()}; newer views are counted from raw rows.`} data-testid="freshness">
      {updatedAgo(at, now)}
    </time>
  );
}

/** The most viewed pages; pressing one shows only that page in the chart and the breakdowns that count per page. */
function TopPages({ pages, view, onPage, onRetry }: { pages: Load<Pages>; view: PageState; onPage: (host: string, path: string) => void; onRetry: () => void }) {
  if (pages.state === 'loading') return <p className="muted" aria-busy="true">Loading the top pages…</p>;
  if (pages.state === 'error') {
    return (
      <div role="alert">
        <p className="error">Could not load the top pages. {pages.message}</p>
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      </div>
    );
  }
  const list = pages.data.pages;
  if (list.length === 0) return <p className="muted" data-testid="pages-empty">No page was viewed in this range.</p>;
  const everySite = pages.data.host === undefined;
  const rows: CountRow[] = list.map((p) => {
    const selected = view.path === p.path && view.host === p.host;
    return {
      key: `${p.host}\u0000${p.path}`,
      label: p.path,
      value: p.path,
      views: p.views,
      visitors: p.visitors,
      kind: 'value',
      ...(everySite ? { sub: hostLabel(p.host) } : {}),
      selected,
      onSelect: () => onPage(p.host, p.path),
      selectHint: selected ? 'Show the whole site again' : `Show only ${p.path}`,
    };
  });
  return <CountList rows={rows} label="Page" testId="top-pages" labelClass="path" />;
}
