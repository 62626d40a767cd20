-- +goose Up
-- Own your data: imported history, API tokens and raw retention (docs/owndata.md).
--
-- Imported history lives beside the recorded views, never among them: `prawn import` writes each
-- chunk of a file to imported_views and adds it to the rollups in the same transaction, under the
-- rollup lock, so imported rows never pass through the fold point. The raw_* views below count
-- them too, so `prawn verify` and `prawn rollup --rebuild` know exactly what every count stands
-- on: recorded views, imported views, or an imported total.

-- One chunk of an imported file: its rows commit together or not at all. hash identifies the
-- chunk's content (format, header, first line, fields), so importing a file again skips every
-- chunk already in.
CREATE TABLE import_chunks (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hash         bytea       NOT NULL UNIQUE CHECK (length(hash) = 32),
    format       text        NOT NULL CHECK (format IN ('prawn', 'goatcounter', 'totals')),
    source       text        NOT NULL, -- the file as named on the command line (informative)
    first_line   bigint      NOT NULL,
    last_line    bigint      NOT NULL,
    rows         bigint      NOT NULL, -- imported_views rows written
    views        bigint      NOT NULL, -- the views they stand for
    skipped      bigint      NOT NULL, -- records of the chunk not counted (bots, events, ...)
    committed_at timestamptz NOT NULL DEFAULT now()
);

-- Imported views, in the shape of views. n is how many views the row stands for: 1 for a view
-- of an exported file, a day's count (viewed_at at its UTC midnight) or an all-time count
-- (viewed_at NULL: it counts in totals only) for a totals file. visitor, when set, is the
-- visitor-day id the view counts under; imported visitor-days are counted apart from recorded
-- ones (imported_visitor_days), never merged with them. id is the imported fold order.
CREATE TABLE imported_views (
    id           bigint PRIMARY KEY,
    chunk        bigint      NOT NULL REFERENCES import_chunks (id),
    host         text COLLATE "C" NOT NULL,
    path         text COLLATE "C" NOT NULL CHECK (path LIKE '/%'),
    viewed_at    timestamptz,
    n            bigint      NOT NULL DEFAULT 1 CHECK (n >= 1),
    visitor      bigint,
    referrer     text COLLATE "C",
    ref_host     text COLLATE "C",
    utm_source   text COLLATE "C",
    utm_medium   text COLLATE "C",
    utm_campaign text COLLATE "C",
    browser      text COLLATE "C",
    os           text COLLATE "C",
    device       text COLLATE "C",
    country      text COLLATE "C",
    CHECK (visitor IS NULL OR (n = 1 AND viewed_at IS NOT NULL))
);
CREATE INDEX imported_views_viewed_at_idx ON imported_views (viewed_at);

-- The dedup state of imported visitor-days, as visitor_days is of recorded ones. It is never
-- closed: a later chunk of the same file may bring more views of a visitor-day.
CREATE TABLE imported_visitor_days (
    day        date             NOT NULL,
    visitor    bigint           NOT NULL,
    host       text COLLATE "C" NOT NULL,
    hours      integer          NOT NULL,
    paths      text[] COLLATE "C" NOT NULL,
    path_hours integer[]        NOT NULL,
    PRIMARY KEY (day, visitor, host),
    CHECK (cardinality(paths) = cardinality(path_hours))
);

-- Exports and retention read the views of one UTC day; views are recorded in time order, so a
-- block range index finds them for almost nothing (recording pays no B-tree upkeep).
CREATE INDEX views_viewed_at_brin ON views USING brin (viewed_at) WITH (autosummarize = on);

-- API tokens: only the SHA-256 of each token is kept; the token is shown once, when created.
-- hint is its last four characters, so `prawn token list` can tell tokens apart.
CREATE TABLE api_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (name <> '' AND length(name) <= 100),
    scope      text        NOT NULL CHECK (scope IN ('read', 'export', 'admin')),
    hash       bytea       NOT NULL UNIQUE CHECK (length(hash) = 32),
    hint       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE UNIQUE INDEX api_tokens_live_name_idx ON api_tokens (name) WHERE revoked_at IS NULL;

-- Raw retention (PRAWN_RAW_RETENTION): the raw rows of the UTC days before raw_kept_from may be
-- gone. It moves forward, before any row is deleted, so a check never takes a day with missing
-- rows for a mismatch.
ALTER TABLE rollup_state ADD COLUMN raw_kept_from date NOT NULL DEFAULT '2000-01-01';

-- The definitions of the rollups, now over recorded and imported views alike (schema/00002 has
-- the rest of the story). An imported row counts its n views; it counts for visitors when it
-- has a visitor id, in its own namespace (imported), first views in imported order.
DROP VIEW raw_visitor_days;
DROP VIEW raw_daily_breakdowns;
DROP VIEW raw_daily_stats;
DROP VIEW raw_hourly_stats;
DROP VIEW raw_visits;

CREATE VIEW raw_visits AS
SELECT c.*,
       c.counts_visitor AND row_number() OVER (
           PARTITION BY c.counts_visitor, c.imported, c.day, c.visitor, c.host, c.scope ORDER BY c.xid, c.id) = 1 AS is_first
FROM (
    SELECT false AS imported, v.xid, v.id, 1::bigint AS n, v.host, unnest(ARRAY[v.path, '']) AS scope, v.path, v.visitor,
           v.ref_host, v.referrer, v.utm_source, v.utm_medium, v.utm_campaign,
           v.browser, v.os, v.device, v.country,
           date_bin('15 minutes', v.viewed_at, '2000-01-01 00:00:00+00') AS quarter,
           (v.viewed_at AT TIME ZONE 'UTC')::date AS day,
           v.visitor IS NOT NULL AND CASE
               WHEN dc.day IS NOT NULL THEN (v.xid, v.id) <= (dc.folded_xid, dc.folded_id)
               ELSE (v.viewed_at AT TIME ZONE 'UTC')::date >= st.visitors_open_from
           END AS counts_visitor
    FROM views v
    CROSS JOIN rollup_state st
    LEFT JOIN visitor_day_closes dc ON dc.day = (v.viewed_at AT TIME ZONE 'UTC')::date
    WHERE (v.xid, v.id) <= (st.folded_xid, st.folded_id)
    UNION ALL
    SELECT true, '0'::xid8, i.id, i.n, i.host, unnest(ARRAY[i.path, '']), i.path, i.visitor,
           i.ref_host, i.referrer, i.utm_source, i.utm_medium, i.utm_campaign,
           i.browser, i.os, i.device, i.country,
           date_bin('15 minutes', i.viewed_at, '2000-01-01 00:00:00+00'),
           (i.viewed_at AT TIME ZONE 'UTC')::date,
           i.visitor IS NOT NULL
    FROM imported_views i
    WHERE i.viewed_at IS NOT NULL
) c;

CREATE VIEW raw_hourly_stats AS
SELECT x.host, x.path, x.hour,
       coalesce(sum(x.n) FILTER (WHERE x.q = 0), 0)::bigint AS q0,
       coalesce(sum(x.n) FILTER (WHERE x.q = 1), 0)::bigint AS q1,
       coalesce(sum(x.n) FILTER (WHERE x.q = 2), 0)::bigint AS q2,
       coalesce(sum(x.n) FILTER (WHERE x.q = 3), 0)::bigint AS q3,
       count(*) FILTER (WHERE x.is_first AND x.q = 0) AS n0,
       count(*) FILTER (WHERE x.is_first AND x.q = 1) AS n1,
       count(*) FILTER (WHERE x.is_first AND x.q = 2) AS n2,
       count(*) FILTER (WHERE x.is_first AND x.q = 3) AS n3,
       count(DISTINCT x.visitor) FILTER (WHERE x.counts_visitor AND NOT x.imported)
         + count(DISTINCT x.visitor) FILTER (WHERE x.counts_visitor AND x.imported) AS visitors
FROM (
    SELECT rv.host, rv.scope AS path, rv.visitor, rv.counts_visitor, rv.is_first, rv.imported, rv.n,
           date_bin('1 hour', rv.quarter, '2000-01-01 00:00:00+00') AS hour,
           extract(minute FROM rv.quarter)::int / 15 AS q
    FROM raw_visits rv
) x
GROUP BY 1, 2, 3;

CREATE VIEW raw_daily_stats AS
SELECT h.host, h.path, (h.hour AT TIME ZONE 'UTC')::date AS day,
       sum(h.q0 + h.q1 + h.q2 + h.q3)::bigint AS views,
       sum(h.n0 + h.n1 + h.n2 + h.n3)::bigint AS visitors
FROM raw_hourly_stats h
GROUP BY 1, 2, 3;

CREATE VIEW raw_daily_breakdowns AS
SELECT x.host, x.path, x.dim, x.day, x.value,
       sum(x.n)::bigint AS views, count(*) FILTER (WHERE x.is_first) AS visitors
FROM (
    SELECT rv.host, rv.scope AS path, rv.day, rv.is_first, rv.n,
           unnest(ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9]::smallint[]) AS dim,
           unnest(ARRAY[rv.ref_host, rv.referrer, rv.utm_source, rv.utm_medium, rv.utm_campaign,
                        rv.browser, rv.os, rv.device, rv.country]) AS value
    FROM raw_visits rv
) x
WHERE x.value IS NOT NULL AND (x.path = '' OR x.dim IN (1, 3, 4, 5))
GROUP BY 1, 2, 3, 4, 5;

-- The dedup state of the open days of recorded views.
CREATE VIEW raw_visitor_days AS
SELECT p.day, p.visitor, p.host, bit_or(p.hours)::integer AS hours,
       array_agg(p.path ORDER BY p.path) AS paths, array_agg(p.hours ORDER BY p.path) AS path_hours
FROM (
    SELECT rv.day, rv.visitor, rv.host, rv.path,
           bit_or(1 << extract(hour FROM rv.quarter AT TIME ZONE 'UTC')::int) AS hours
    FROM raw_visits rv
    CROSS JOIN rollup_state st
    WHERE rv.counts_visitor AND NOT rv.imported AND rv.scope <> '' AND rv.day >= st.visitors_open_from
    GROUP BY 1, 2, 3, 4
) p
GROUP BY 1, 2, 3;

-- The dedup state of imported visitor-days.
CREATE VIEW raw_imported_visitor_days AS
SELECT p.day, p.visitor, p.host, bit_or(p.hours)::integer AS hours,
       array_agg(p.path ORDER BY p.path) AS paths, array_agg(p.hours ORDER BY p.path) AS path_hours
FROM (
    SELECT (i.viewed_at AT TIME ZONE 'UTC')::date AS day, i.visitor, i.host, i.path,
           bit_or(1 << extract(hour FROM i.viewed_at AT TIME ZONE 'UTC')::int) AS hours
    FROM imported_views i
    WHERE i.visitor IS NOT NULL
    GROUP BY 1, 2, 3, 4
) p
GROUP BY 1, 2, 3;

-- What every total must hold: the sum of its daily rollups, plus the imported all-time counts
-- that have no date.
CREATE VIEW raw_totals AS
SELECT x.host, x.path, sum(x.views)::bigint AS views, sum(x.visitors)::bigint AS visitors
FROM (
    SELECT host, path, views, visitors FROM daily_stats
    UNION ALL
    SELECT i.host, s.path, i.n, 0 FROM imported_views i, unnest(ARRAY[i.path, '']) AS s(path)
    WHERE i.viewed_at IS NULL
) x
GROUP BY 1, 2;

-- What `prawn export` writes of the views of a range: recorded views, then imported views, each
-- in fold order. The visitor id is written only where the view counted for visitors, and only of
-- a day that is over: for recorded views a closed day (before visitors_open_from), whose salt is
-- gone; for imported ones a day before the current UTC day. Imported totals (n > 1 or no date)
-- are not views: the rollup exports carry them.
CREATE VIEW export_views AS
SELECT 0 AS src, v.xid, v.id, v.viewed_at, v.host, v.path, v.referrer, v.ref_host,
       v.utm_source, v.utm_medium, v.utm_campaign, v.browser, v.os, v.device, v.country,
       CASE WHEN v.visitor IS NOT NULL AND (v.viewed_at AT TIME ZONE 'UTC')::date < st.visitors_open_from
                 AND dc.day IS NOT NULL AND (v.xid, v.id) <= (dc.folded_xid, dc.folded_id)
            THEN lpad(to_hex(v.visitor), 16, '0') END AS visitor
FROM views v
CROSS JOIN rollup_state st
LEFT JOIN visitor_day_closes dc ON dc.day = (v.viewed_at AT TIME ZONE 'UTC')::date
UNION ALL
SELECT 1, '0'::xid8, i.id, i.viewed_at, i.host, i.path, i.referrer, i.ref_host,
       i.utm_source, i.utm_medium, i.utm_campaign, i.browser, i.os, i.device, i.country,
       CASE WHEN i.visitor IS NOT NULL AND (i.viewed_at AT TIME ZONE 'UTC')::date < (now() AT TIME ZONE 'UTC')::date
            THEN lpad(to_hex(i.visitor), 16, '0') END
FROM imported_views i
WHERE i.viewed_at IS NOT NULL AND i.n = 1;

-- +goose Down
DROP VIEW export_views;
DROP VIEW raw_totals;
DROP VIEW raw_imported_visitor_days;
DROP VIEW raw_visitor_days;
DROP VIEW raw_daily_breakdowns;
DROP VIEW raw_daily_stats;
DROP VIEW raw_hourly_stats;
DROP VIEW raw_visits;

CREATE VIEW raw_visits AS
SELECT c.*,
       c.counts_visitor AND row_number() OVER (
           PARTITION BY c.counts_visitor, c.day, c.visitor, c.host, c.scope ORDER BY c.xid, c.id) = 1 AS is_first
FROM (
    SELECT v.xid, v.id, v.host, unnest(ARRAY[v.path, '']) AS scope, v.path, v.visitor,
           v.ref_host, v.referrer, v.utm_source, v.utm_medium, v.utm_campaign,
           v.browser, v.os, v.device, v.country,
           date_bin('15 minutes', v.viewed_at, '2000-01-01 00:00:00+00') AS quarter,
           (v.viewed_at AT TIME ZONE 'UTC')::date AS day,
           v.visitor IS NOT NULL AND CASE
               WHEN dc.day IS NOT NULL THEN (v.xid, v.id) <= (dc.folded_xid, dc.folded_id)
               ELSE (v.viewed_at AT TIME ZONE 'UTC')::date >= st.visitors_open_from
           END AS counts_visitor
    FROM views v
    CROSS JOIN rollup_state st
    LEFT JOIN visitor_day_closes dc ON dc.day = (v.viewed_at AT TIME ZONE 'UTC')::date
    WHERE (v.xid, v.id) <= (st.folded_xid, st.folded_id)
) c;

CREATE VIEW raw_hourly_stats AS
SELECT x.host, x.path, x.hour,
       count(*) FILTER (WHERE x.q = 0) AS q0,
       count(*) FILTER (WHERE x.q = 1) AS q1,
       count(*) FILTER (WHERE x.q = 2) AS q2,
       count(*) FILTER (WHERE x.q = 3) AS q3,
       count(*) FILTER (WHERE x.is_first AND x.q = 0) AS n0,
       count(*) FILTER (WHERE x.is_first AND x.q = 1) AS n1,
       count(*) FILTER (WHERE x.is_first AND x.q = 2) AS n2,
       count(*) FILTER (WHERE x.is_first AND x.q = 3) AS n3,
       count(DISTINCT x.visitor) FILTER (WHERE x.counts_visitor) AS visitors
FROM (
    SELECT rv.host, rv.scope AS path, rv.visitor, rv.counts_visitor, rv.is_first,
           date_bin('1 hour', rv.quarter, '2000-01-01 00:00:00+00') AS hour,
           extract(minute FROM rv.quarter)::int / 15 AS q
    FROM raw_visits rv
) x
GROUP BY 1, 2, 3;

CREATE VIEW raw_daily_stats AS
SELECT h.host, h.path, (h.hour AT TIME ZONE 'UTC')::date AS day,
       sum(h.q0 + h.q1 + h.q2 + h.q3)::bigint AS views,
       sum(h.n0 + h.n1 + h.n2 + h.n3)::bigint AS visitors
FROM raw_hourly_stats h
GROUP BY 1, 2, 3;

CREATE VIEW raw_daily_breakdowns AS
SELECT x.host, x.path, x.dim, x.day, x.value,
       count(*) AS views, count(*) FILTER (WHERE x.is_first) AS visitors
FROM (
    SELECT rv.host, rv.scope AS path, rv.day, rv.is_first,
           unnest(ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9]::smallint[]) AS dim,
           unnest(ARRAY[rv.ref_host, rv.referrer, rv.utm_source, rv.utm_medium, rv.utm_campaign,
                        rv.browser, rv.os, rv.device, rv.country]) AS value
    FROM raw_visits rv
) x
WHERE x.value IS NOT NULL AND (x.path = '' OR x.dim IN (1, 3, 4, 5))
GROUP BY 1, 2, 3, 4, 5;

CREATE VIEW raw_visitor_days AS
SELECT p.day, p.visitor, p.host, bit_or(p.hours)::integer AS hours,
       array_agg(p.path ORDER BY p.path) AS paths, array_agg(p.hours ORDER BY p.path) AS path_hours
FROM (
    SELECT rv.day, rv.visitor, rv.host, rv.path,
           bit_or(1 << extract(hour FROM rv.quarter AT TIME ZONE 'UTC')::int) AS hours
    FROM raw_visits rv
    CROSS JOIN rollup_state st
    WHERE rv.counts_visitor AND rv.scope <> '' AND rv.day >= st.visitors_open_from
    GROUP BY 1, 2, 3, 4
) p
GROUP BY 1, 2, 3;

ALTER TABLE rollup_state DROP COLUMN raw_kept_from;
DROP TABLE api_tokens;
DROP INDEX views_viewed_at_brin;
DROP TABLE imported_visitor_days;
DROP TABLE imported_views;
DROP TABLE import_chunks;
