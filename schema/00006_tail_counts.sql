-- +goose Up
-- Counts of the views not yet folded, kept by the transaction that records them, so a counter
-- (GET /api/home, the badges, a total) reads a few rows however long the tail is, instead of
-- counting the tail's rows (each one a heap visit: 180 ms for a tail of 1 M views, 2026-12-02).
--
-- tail_counts holds, per host and scope (a path, or '' for the whole host) and shard, a count of
-- views; their sum over a scope's shards is how many views after the fold point are committed.
-- A trigger adds every INSERT's views in the INSERT's own transaction, to shard xid % 64 (the same
-- for every row of one INSERT): concurrent writers (group-commit flushers, queue consumers) mostly
-- update different rows and so seldom wait for each other's commits. The fold subtracts the
-- views it folds, in the fold's transaction, from shard -1, which only folds write: a fold never
-- waits for a recording transaction nor holds one back. So in every snapshot
--     totals.views + sum(tail_counts.views) = the views committed,
-- exactly: each commit changes both sides at once. The rollup run's maintenance compacts the table
-- once a minute (storage.CompactTailCounts): each scope's rows become one row of shard -1 holding
-- its sum, or none. Every writer takes the rows it updates in (host, path, shard) order, so two of
-- them can never deadlock.
-- No fold runs while this migration does (the rollup lock, storage.rollupLockKey).
SELECT pg_advisory_xact_lock(1886544247);

CREATE TABLE tail_counts (
    host  text COLLATE "C" NOT NULL,
    path  text COLLATE "C" NOT NULL,
    shard smallint NOT NULL CHECK (shard BETWEEN -1 AND 63), -- -1: the folds'
    views bigint   NOT NULL,
    PRIMARY KEY (host, path, shard),
    CHECK (path = '' OR path LIKE '/%')
) WITH (fillfactor = 50); -- counts change in place (HOT updates), many times a second
-- The hosts' rows, for the site-wide count and the list of hosts.
CREATE INDEX tail_counts_hosts_idx ON tail_counts (host) WHERE path = '';

-- +goose StatementBegin
CREATE FUNCTION tally_new_views() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tail_counts AS c (host, path, shard, views)
    SELECT n.host, s.path, (n.xid::text::bigint % 64)::smallint, count(*)
    FROM new_views n CROSS JOIN LATERAL (VALUES (n.path), ('')) AS s(path)
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (host, path, shard) DO UPDATE SET views = c.views + excluded.views;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER views_tally AFTER INSERT ON views
    REFERENCING NEW TABLE AS new_views
    FOR EACH STATEMENT EXECUTE FUNCTION tally_new_views();

-- What each scope's rows of tail_counts must sum to, from the raw views: `prawn verify` compares,
-- `prawn rollup --rebuild` writes it back.
CREATE VIEW raw_tail_counts AS
SELECT v.host, s.path, count(*) AS views
FROM views v CROSS JOIN rollup_state st CROSS JOIN unnest(ARRAY[v.path, '']) AS s(path)
WHERE (v.xid, v.id) > (st.folded_xid, st.folded_id)
GROUP BY 1, 2;

-- The tail as it stands: no view is recorded meanwhile (the lock, which CREATE TRIGGER took
-- already, waited for the INSERTs under way and holds back new ones until this migration
-- commits), and no fold moves the fold point.
LOCK TABLE views IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO tail_counts (host, path, shard, views) SELECT host, path, -1, views FROM raw_tail_counts;

-- +goose Down
DROP VIEW raw_tail_counts;
DROP TRIGGER views_tally ON views;
DROP FUNCTION tally_new_views();
DROP TABLE tail_counts;
