import { useEffect, useId, useMemo, useState } from 'react';
import { api } from './api/client';
import { Chart } from './Chart';
import { bucketLabel, chartTitle, formatCount, timeZoneLabel, updatedAgo } from './lib/format';
import { fillSeries, RANGES, rangeOf, rangeQuery, type Bucket, type RangeKey } from './lib/time';
import { useLoad, type Fetched, type Load } from './useLoad';
import type { components } from './api/schema';

type Home = components['schemas']['Home'];
type Stats = components['schemas']['Stats'];
type Pages = components['schemas']['Pages'];

/** How often the chart and the top pages refresh on their own. */
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

/** prawn's page: the counter, the chart, the top pages and how it all works. */
export function App() {
  const [homeRetry, setHomeRetry] = useState(0);
  const home = useLoad((_signal) => loadHomeOnce(homeRetry), [homeRetry]);

  const [rangeKey, setRangeKey] = useState<RangeKey>('24h');
  const [bucket, setBucket] = useState<Bucket>('hour');
  const [tick, setTick] = useState(0); // bumps to refresh stats and pages
  useEffect(() => {
    const id = window.setInterval(() => {
      if (document.visibilityState === 'visible') setTick((t) => t + 1);
    }, REFRESH_MS);
    return () => window.clearInterval(id);
  }, []);

  // The numbers wait for this visit's view to be committed, so the chart's total
  // and the headline agree on the first load.
  const homeSettled = home.state !== 'loading';
  const query = useMemo(() => rangeQuery(rangeKey, bucket, new Date(), visitorTZ), [rangeKey, bucket, tick]);
  const stats = useLoad((signal) => api.GET('/api/stats', { params: { query }, signal }), [query], homeSettled);
  const pages = useLoad(
    (signal) => api.GET('/api/pages', { params: { query: { from: query.from, to: query.to, limit: 10 } }, signal }),
    [query.from, query.to],
    homeSettled,
  );

  const chooseRange = (key: RangeKey) => {
    setRangeKey(key);
    setBucket(rangeOf(key).bucket);
  };

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
        <Headline home={home} onRetry={() => setHomeRetry((r) => r + 1)} />

        <section className="card" aria-labelledby="chart-title">
          <div className="card-head">
            <h2 id="chart-title">{chartTitle(bucket)}</h2>
            <Controls rangeKey={rangeKey} bucket={bucket} onRange={chooseRange} onBucket={setBucket} />
          </div>
          <StatsView stats={stats} bucket={bucket} rangeKey={rangeKey} onRetry={() => setTick((t) => t + 1)} />
        </section>

        <section className="card" aria-labelledby="pages-title">
          <h2 id="pages-title">Top pages, {rangeOf(rangeKey).longLabel}</h2>
          <TopPages pages={pages} onRetry={() => setTick((t) => t + 1)} />
        </section>

        <HowItWorks />
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

function Headline({ home, onRetry }: { home: Load<Home>; onRetry: () => void }) {
  return (
    <section className="headline" aria-live="polite">
      <h1>
        Page views:{' '}
        <output data-testid="page-views" className={home.state === 'loading' ? 'muted' : ''}>
          {home.state === 'ok' ? formatCount(home.data.pageViews) : home.state === 'loading' ? '…' : '?'}
        </output>
      </h1>
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
        <p className="muted">Loading this page counted one view of /.</p>
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
      <p className="summary">
        <strong data-testid="range-views">{formatCount(inRange)}</strong> views in the {rangeOf(rangeKey).longLabel} ·{' '}
        <span data-testid="all-time">{formatCount(s.total)}</span> all time · <Freshness asOf={s.asOf} />
        {s.pending ? <> · {formatCount(s.pending)} not yet rolled up</> : null}
      </p>
      {filled && inRange > 0 ? (
        <Chart times={filled.times} views={filled.views} bucket={shownBucket} tz={visitorTZ} />
      ) : (
        <div className="chart-box placeholder" data-testid="chart-empty">
          <p className="muted">No views in this range yet. Views appear here as soon as they are recorded.</p>
        </div>
      )}
      <p className="muted small">Times in {timeZoneLabel(visitorTZ, new Date())}.</p>
      {filled && inRange > 0 && (
        <details>
          <summary>Show the numbers</summary>
          <table className="numbers">
            <caption className="visually-hidden">{chartTitle(bucket)}</caption>
            <thead>
              <tr>
                <th scope="col">{shownBucket === 'hour' ? 'Hour' : 'Day'}</th>
                <th scope="col">Views</th>
              </tr>
            </thead>
            <tbody>
              {filled.times.map((t, i) =>
                filled.views[i] ? (
                  <tr key={t}>
                    <td>{bucketLabel(t, shownBucket, visitorTZ)}</td>
                    <td>{formatCount(filled.views[i] ?? 0)}</td>
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

function TopPages({ pages, onRetry }: { pages: Load<Pages>; onRetry: () => void }) {
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
  const max = Math.max(...list.map((p) => p.views), 1);
  return (
    <ol className="pages" data-testid="top-pages">
      {list.map((p) => (
        <li key={p.path}>
          <span className="path" title={p.path}>
            {p.path}
          </span>
          <meter min={0} max={max} value={p.views} aria-hidden="true" />
          <span className="views">{formatCount(p.views)}</span>
        </li>
      ))}
    </ol>
  );
}

function HowItWorks() {
  return (
    <section className="card prose" aria-labelledby="how-title">
      <h2 id="how-title">How it works</h2>
      <ol>
        <li>
          <strong>Recording.</strong> Each view (<code>POST /api/views</code>, or loading this page) is one row inserted
          into Postgres. The server answers only after the row is committed, so an acknowledged view is never lost.
        </li>
        <li>
          <strong>Rollups.</strong> A scheduled job folds the new raw rows into hourly rollups, exactly once: a view is
          counted in one hour's rollup and never twice, even when a run is retried.
        </li>
        <li>
          <strong>Reads.</strong> A count is the rollups plus the tail of views not yet rolled up, so numbers are exact the
          moment a view is recorded; “updated … ago” says how far the rollups reach.
        </li>
        <li>
          <strong>Running it.</strong> The same code runs as one binary on your machine (with its own Postgres if you have
          none) or as AWS Lambda functions behind CloudFront, with the rollup on a schedule.
        </li>
      </ol>
    </section>
  );
}
