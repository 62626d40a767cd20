-- +goose Up
-- Raw page views: one row per view, never deleted by prawn.
-- xid is the recording transaction's id. The rollup folds rows in (xid, id) order up to the oldest
-- transaction still running, so a row is never skipped however late its transaction commits
-- (see docs/rollups.md).
CREATE TABLE views (
    id        bigint GENERATED ALWAYS AS IDENTITY,
    xid       xid8        NOT NULL DEFAULT pg_current_xact_id(),
    path      text        NOT NULL,
    referrer  text,
    viewed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The rollup and the not-yet-rolled tail read rows in (xid, id) order.
    PRIMARY KEY (xid, id)
);

-- Hourly rollups keyed by (path, hour). The four quarter-hour counts let day buckets in zones with
-- half- and quarter-hour offsets be exact; views is their sum.
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
) WITH (fillfactor = 70); -- room for HOT updates: the fold updates counts in place
-- Top pages in a range scan rollups by hour.
CREATE INDEX hourly_views_hour_idx ON hourly_views (hour);

-- Site-wide hourly rollups, so site series do not sum over every path.
CREATE TABLE site_hourly_views (
    hour  timestamptz PRIMARY KEY,
    q0    bigint NOT NULL DEFAULT 0,
    q1    bigint NOT NULL DEFAULT 0,
    q2    bigint NOT NULL DEFAULT 0,
    q3    bigint NOT NULL DEFAULT 0,
    views bigint GENERATED ALWAYS AS (q0 + q1 + q2 + q3) STORED,
    CHECK (hour = date_bin('1 hour', hour, '2000-01-01 00:00:00+00'))
) WITH (fillfactor = 70);

-- All-time totals per path, so a total is one row, not a sum over history.
CREATE TABLE path_totals (
    path  text   PRIMARY KEY,
    views bigint NOT NULL
) WITH (fillfactor = 70);

-- The rollup's single row: how far it reached and the site-wide total it folded.
CREATE TABLE rollup_state (
    id          boolean     PRIMARY KEY DEFAULT true CHECK (id),
    -- Every view with (xid, id) <= (folded_xid, folded_id) is in the rollups; none after it is.
    folded_xid  xid8        NOT NULL DEFAULT '0',
    folded_id   bigint      NOT NULL DEFAULT 0,
    total_views bigint      NOT NULL DEFAULT 0,
    -- When the rollups were last brought up to date (no view can predate the schema).
    rolled_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO rollup_state DEFAULT VALUES;

-- +goose Down
DROP TABLE rollup_state;
DROP TABLE path_totals;
DROP TABLE site_hourly_views;
DROP TABLE hourly_views;
DROP TABLE views;
