// The breakdown cards: where readers come from (referrers, campaigns) and what they read with
// (browsers, systems, devices, countries). Loaded lazily (App's <Later>): not on the first screen.

import { useState } from 'react';
import { api } from './api/client';
import { CountList } from './CountList';
import { breakdownAsk, breakdownRows, utcDayRange, utcDaysLabel, type Dimension } from './lib/breakdown';
import { hostLabel } from './lib/format';
import { useLoad } from './useLoad';

/** The scope and range every card counts, and when to (re)load. */
export interface BreakdownsProps {
  host: string | null;
  path: string | null;
  from: string;
  to: string;
  /** Bumps to refresh. */
  tick: number;
  /** Nothing loads until this visit's view is committed. */
  enabled: boolean;
}

/** The most viewed values shown per list. */
const LIMIT = 10;

interface ListSpec {
  by: Dimension;
  /** The list's heading in a card of several lists. */
  heading?: string;
  /** The name of the values' column. */
  column: string;
}

const CARDS: { id: string; title: string; lists: ListSpec[] }[] = [
  {
    id: 'referrers',
    title: 'Top referrers',
    lists: [
      { by: 'referrer_host', heading: 'Referring sites', column: 'Site' },
      { by: 'referrer', heading: 'Full referrers', column: 'Address (without its query)' },
    ],
  },
  {
    id: 'campaigns',
    title: 'Campaigns',
    lists: [
      { by: 'utm_source', heading: 'Source', column: 'utm_source' },
      { by: 'utm_medium', heading: 'Medium', column: 'utm_medium' },
      { by: 'utm_campaign', heading: 'Campaign', column: 'utm_campaign' },
    ],
  },
  { id: 'browsers', title: 'Browsers', lists: [{ by: 'browser', column: 'Browser' }] },
  { id: 'systems', title: 'Systems', lists: [{ by: 'os', column: 'Operating system' }] },
  { id: 'devices', title: 'Devices', lists: [{ by: 'device', column: 'Device' }] },
  { id: 'countries', title: 'Countries', lists: [{ by: 'country', column: 'Country' }] },
];

/** Every breakdown card for the reader's site, page and range. */
export default function Breakdowns(props: BreakdownsProps) {
  const days = utcDayRange(props.from, props.to);
  return (
    <section aria-labelledby="sources-title" className="breakdowns" data-testid="breakdowns">
      <div className="section-head">
        <h2 id="sources-title">Sources and clients</h2>
        <p className="muted small" data-testid="breakdown-days">
          {utcDaysLabel(days.from, days.to)}, whole UTC days{props.path !== null ? <>, of {props.path} where counted per page</> : null}
        </p>
      </div>
      <div className="card-grid">
        {CARDS.map((card) => (
          <section key={card.id} className="card" aria-labelledby={`${card.id}-title`} data-testid={`card-${card.id}`}>
            <h3 id={`${card.id}-title`}>{card.title}</h3>
            {card.lists.map((l) => (
              <DimensionList key={l.by} spec={l} {...props} />
            ))}
          </section>
        ))}
      </div>
    </section>
  );
}

function DimensionList({ spec, host, path, from, to, tick, enabled }: BreakdownsProps & { spec: ListSpec }) {
  const { by, heading, column } = spec;
  const ask = breakdownAsk(by, host, path);
  const [retry, setRetry] = useState(0);
  const load = useLoad(
    (signal) => api.GET('/api/breakdown', { params: { query: { ...(ask.ok ? ask.query : { by }), from, to, limit: LIMIT } }, signal }),
    [by, host, path, from, to, tick, retry],
    enabled && ask.ok,
  );
  const title = heading ? <h4>{heading}</h4> : null;
  if (!ask.ok) {
    return (
      <div className="dimension" data-testid={`breakdown-${by}`} data-state="not-asked">
        {title}
        <p className="muted small">{ask.why}</p>
      </div>
    );
  }
  let body;
  if (load.state === 'loading') {
    body = (
      <p className="muted" aria-busy="true">
        Loading…
      </p>
    );
  } else if (load.state === 'error') {
    body = (
      <div role="alert">
        <p className="error">Could not load this breakdown. {load.message}</p>
        <button type="button" onClick={() => setRetry((r) => r + 1)}>
          Try again
        </button>
      </div>
    );
  } else {
    const rows = breakdownRows(load.data);
    body =
      rows.length === 0 ? (
        <p className="muted" data-testid={`empty-${by}`}>
          No views in this range.
        </p>
      ) : (
        <CountList rows={rows} label={column} />
      );
  }
  const answered = load.state === 'ok' ? load.data : undefined;
  return (
    <div
      className="dimension"
      data-testid={`breakdown-${by}`}
      data-state={load.state}
      // What the shown numbers count (the answer's scope, which may lag the reader's choice while it loads).
      data-host={answered ? (answered.host ?? '*') : undefined}
      data-path={answered ? (answered.path ?? '') : undefined}
    >
      {title}
      {ask.wholeSite && (
        <p className="muted small note">
          Kept per site, not per page: these are all of {hostLabel(host)}.
        </p>
      )}
      {body}
    </div>
  );
}
