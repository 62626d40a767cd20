-- +goose Up
-- Hosts, cookieless visitors and dimensions (referrer, campaign, browser, system, device,
-- country), and rollups shaped for reads that stay fast at any history and any number of paths.
-- See docs/rollups.md for what every table holds and why.
--
-- Conventions of every rollup table:
--   host  '' is the default site: views recorded without a host (back ends, README badges, the
--         views recorded before hosts existed). Any other value is a lower-case hostname.
--   path  '' is the whole host; any other value is a normalised path, which starts with "/".

-- What a view carries besides its host and path. Dimensions are the derived names only (never the
-- User-Agent or the address); NULL means unknown. visitor is a keyed hash of (daily salt, host,
-- address, User-Agent): it changes every UTC day and cannot be traced back once the day's salt is
-- gone.
-- Text compares byte by byte ("C"): paths are bytes, and sorting and indexing stay fast and the
-- same on every server whatever its locale.
ALTER TABLE views
    ALTER COLUMN path TYPE text COLLATE "C",
    ALTER COLUMN referrer TYPE text COLLATE "C",
    ADD COLUMN host         text COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN visitor      bigint,
    ADD COLUMN ref_host     text COLLATE "C",
    ADD COLUMN utm_source   text COLLATE "C",
    ADD COLUMN utm_medium   text COLLATE "C",
    ADD COLUMN utm_campaign text COLLATE "C",
    ADD COLUMN browser      text COLLATE "C",
    ADD COLUMN os           text COLLATE "C",
    ADD COLUMN device       text COLLATE "C",
    ADD COLUMN country      text COLLATE "C";

-- The referrer host of the views recorded before this migration, by the rule the recorder uses
-- from now on: the host of the normalised referrer URL, without its port.
UPDATE views SET ref_host = substring(referrer FROM '^[a-z][a-z0-9+.-]*://([^/:?#]+)')
WHERE referrer IS NOT NULL;

-- Hourly rollups of a path (or, with path '', of the host). q0..q3 are the views of each quarter
-- hour, so day buckets in zones offset by a half or a quarter hour stay exact. n0..n3 are the
-- visitor-days first seen in each quarter hour (a visitor-day is one visitor on one UTC day,
-- counted once, in the quarter hour of its first view); visitors is the distinct visitors of the
-- hour.
CREATE TABLE hourly_stats (
    host     text COLLATE "C" NOT NULL,
    path     text COLLATE "C" NOT NULL,
    hour     timestamptz NOT NULL,
    q0       bigint      NOT NULL DEFAULT 0,
    q1       bigint      NOT NULL DEFAULT 0,
    q2       bigint      NOT NULL DEFAULT 0,
    q3       bigint      NOT NULL DEFAULT 0,
    views    bigint GENERATED ALWAYS AS (q0 + q1 + q2 + q3) STORED,
    n0       bigint      NOT NULL DEFAULT 0,
    n1       bigint      NOT NULL DEFAULT 0,
    n2       bigint      NOT NULL DEFAULT 0,
    n3       bigint      NOT NULL DEFAULT 0,
    visitors bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (host, path, hour),
    CHECK (hour = date_bin('1 hour', hour, '2000-01-01 00:00:00+00')),
    CHECK (path = '' OR path LIKE '/%')
) WITH (fillfactor = 80); -- room for HOT updates: the fold updates counts in place

-- Daily (UTC) rollups: views, and distinct visitors of the day.
CREATE TABLE daily_stats (
    host     text COLLATE "C" NOT NULL,
    path     text COLLATE "C" NOT NULL,
    day      date   NOT NULL,
    views    bigint NOT NULL DEFAULT 0,
    visitors bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (host, path, day),
    CHECK (path = '' OR path LIKE '/%')
);
-- Top pages: a day's most viewed paths of a host, read in order (see docs/rollups.md).
CREATE INDEX daily_stats_top_idx ON daily_stats (host, day, views DESC, path) WHERE path <> '';

-- All-time totals of a path (or, with path '', of the host). visitors is the sum of the daily
-- distinct visitors.
CREATE TABLE totals (
    host     text COLLATE "C" NOT NULL,
    path     text COLLATE "C" NOT NULL,
    views    bigint NOT NULL DEFAULT 0,
    visitors bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (host, path),
    CHECK (path = '' OR path LIKE '/%')
) WITH (fillfactor = 80);
-- The list of hosts.
CREATE INDEX totals_hosts_idx ON totals (host) WHERE path = '';

-- Daily breakdowns by one dimension, of a host (path '') by every dimension, and of a path by
-- where its readers came from. dim: 1 referrer host, 2 referrer, 3 utm_source, 4 utm_medium,
-- 5 utm_campaign (per host and per path); 6 browser, 7 operating system, 8 device class,
-- 9 country (per host). Unknown values have no row: they are the rest of daily_stats. visitors
-- counts each visitor-day of the scope once, under the values of its first view.
CREATE TABLE daily_breakdowns (
    host     text COLLATE "C" NOT NULL,
    path     text COLLATE "C" NOT NULL,
    dim      smallint NOT NULL CHECK (dim BETWEEN 1 AND 9),
    day      date     NOT NULL,
    value    text COLLATE "C" NOT NULL CHECK (value <> ''),
    views    bigint   NOT NULL DEFAULT 0,
    visitors bigint   NOT NULL DEFAULT 0,
    PRIMARY KEY (host, path, dim, day, value),
    CHECK (path = '' OR (path LIKE '/%' AND dim IN (1, 3, 4, 5)))
);

-- The dedup state that makes visitors exact: one row per visitor-day of a host (a visitor id on
-- one UTC day), with the UTC hours of that day in which it was seen on the host (bit h = hour h),
-- the paths it viewed and, for each path, the hours it viewed it in. A day's rows are deleted
-- once the day is closed (see rollup_state.visitors_open_from); its counts live on in the rollups.
CREATE TABLE visitor_days (
    day        date             NOT NULL,
    visitor    bigint           NOT NULL,
    host       text COLLATE "C" NOT NULL,
    hours      integer          NOT NULL,
    paths      text[] COLLATE "C" NOT NULL,
    path_hours integer[]        NOT NULL,
    PRIMARY KEY (day, visitor, host),
    CHECK (cardinality(paths) = cardinality(path_hours))
);

-- The random key of each UTC day's visitor hash, shared by every prawn process. A day's salt is
-- deleted an hour after the day ends, so no visitor id can be recomputed afterwards.
CREATE TABLE visitor_salts (
    day  date  PRIMARY KEY,
    salt bytea NOT NULL CHECK (length(salt) = 16)
);

-- Where the fold stood when it closed a day: the visitors of that day are its views at or before
-- this point. A view of a closed day folded later counts as a view but not as a visitor (its
-- day's dedup state is gone, and counting it could count someone twice).
CREATE TABLE visitor_day_closes (
    day        date   PRIMARY KEY,
    folded_xid xid8   NOT NULL,
    folded_id  bigint NOT NULL
);

ALTER TABLE rollup_state
    -- Days before it are closed: their dedup state is gone. The views recorded so far have no
    -- visitor ids, so counting starts with yesterday.
    ADD COLUMN visitors_open_from date NOT NULL DEFAULT '2000-01-01';
UPDATE rollup_state SET visitors_open_from = (now() AT TIME ZONE 'UTC')::date - 1;

-- What the rollups must hold, defined from the raw views: `prawn verify` compares the rollups
-- with these and `prawn rollup --rebuild` writes them back. The fold (queries/rollups.sql) keeps
-- the same numbers incrementally.
--
-- raw_visits: every folded view once per scope (its path, and its host as path ''), with whether
-- it counts for visitors (it has a visitor id and was folded while its day was open: for a closed
-- day, at or before where the fold stood when it closed the day) and whether it is the first such
-- view of its visitor-day in that scope, in fold order.
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

-- The dedup state of the open days.
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

-- The rollups so far, per path and site-wide, become the default site's.
INSERT INTO hourly_stats (host, path, hour, q0, q1, q2, q3)
SELECT '', path, hour, q0, q1, q2, q3 FROM hourly_views;
INSERT INTO hourly_stats (host, path, hour, q0, q1, q2, q3)
SELECT '', '', hour, q0, q1, q2, q3 FROM site_hourly_views;
INSERT INTO daily_stats (host, path, day, views)
SELECT '', path, (hour AT TIME ZONE 'UTC')::date, sum(views) FROM hourly_views GROUP BY 2, 3;
INSERT INTO daily_stats (host, path, day, views)
SELECT '', '', (hour AT TIME ZONE 'UTC')::date, sum(views) FROM site_hourly_views GROUP BY 3;
INSERT INTO totals (host, path, views) SELECT '', path, views FROM path_totals;
INSERT INTO totals (host, path, views) SELECT '', '', total_views FROM rollup_state WHERE total_views > 0;
-- The referrers of the views folded so far (the only dimension they have).
INSERT INTO daily_breakdowns SELECT * FROM raw_daily_breakdowns;

DROP TABLE path_totals;
DROP TABLE site_hourly_views;
DROP TABLE hourly_views;
ALTER TABLE rollup_state DROP COLUMN total_views;

-- +goose Down
ALTER TABLE rollup_state ADD COLUMN total_views bigint NOT NULL DEFAULT 0;
CREATE TABLE hourly_views (
    path  text        NOT NULL,
    hour  timestamptz NOT NULL,
    q0    bigint      NOT NULL DEFAULT 0,
    q1    bigint      NOT NULL DEFAULT 0,
    q2    bigint      NOT NULL DEFAULT 0,
    q3    bigint      NOT NULL DEFAULT 0,
    views bigint GENERATED ALWAYS AS (q0 + q1 + q2 + q3) STORED,
    PRIMARY KEY (path, hour),
    CHECK (hour = date_bin('1 hour', hour, '2000-01-01 00:00:00+00'))
) WITH (fillfactor = 70);
CREATE INDEX hourly_views_hour_idx ON hourly_views (hour);
CREATE TABLE site_hourly_views (
    hour  timestamptz PRIMARY KEY,
    q0    bigint NOT NULL DEFAULT 0,
    q1    bigint NOT NULL DEFAULT 0,
    q2    bigint NOT NULL DEFAULT 0,
    q3    bigint NOT NULL DEFAULT 0,
    views bigint GENERATED ALWAYS AS (q0 + q1 + q2 + q3) STORED,
    CHECK (hour = date_bin('1 hour', hour, '2000-01-01 00:00:00+00'))
) WITH (fillfactor = 70);
CREATE TABLE path_totals (
    path  text   PRIMARY KEY,
    views bigint NOT NULL
) WITH (fillfactor = 70);
-- Every host folds into the one site of the old schema.
INSERT INTO hourly_views (path, hour, q0, q1, q2, q3)
SELECT path, hour, sum(q0), sum(q1), sum(q2), sum(q3) FROM hourly_stats WHERE path <> '' GROUP BY 1, 2;
INSERT INTO site_hourly_views (hour, q0, q1, q2, q3)
SELECT hour, sum(q0), sum(q1), sum(q2), sum(q3) FROM hourly_stats WHERE path = '' GROUP BY 1;
INSERT INTO path_totals (path, views) SELECT path, sum(views) FROM totals WHERE path <> '' GROUP BY 1;
UPDATE rollup_state SET total_views = (SELECT coalesce(sum(views), 0) FROM totals WHERE path = '');
DROP VIEW raw_visitor_days;
DROP VIEW raw_daily_breakdowns;
DROP VIEW raw_daily_stats;
DROP VIEW raw_hourly_stats;
DROP VIEW raw_visits;
ALTER TABLE rollup_state DROP COLUMN visitors_open_from;
DROP TABLE visitor_day_closes;
DROP TABLE visitor_salts;
DROP TABLE visitor_days;
DROP TABLE daily_breakdowns;
DROP TABLE totals;
DROP TABLE daily_stats;
DROP TABLE hourly_stats;
ALTER TABLE views
    ALTER COLUMN path TYPE text COLLATE "default",
    ALTER COLUMN referrer TYPE text COLLATE "default",
    DROP COLUMN host, DROP COLUMN visitor, DROP COLUMN ref_host, DROP COLUMN utm_source,
    DROP COLUMN utm_medium, DROP COLUMN utm_campaign, DROP COLUMN browser, DROP COLUMN os,
    DROP COLUMN device, DROP COLUMN country;
