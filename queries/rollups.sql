-- Folding views into the rollups.

-- name: TryRollupLock :one
-- Serialises rollups: held until the transaction ends.
SELECT pg_try_advisory_xact_lock(sqlc.arg(key)::bigint)::boolean AS locked;

-- name: RollupLock :exec
-- Waits for any running rollup, then holds the lock until the transaction ends.
SELECT pg_advisory_xact_lock(sqlc.arg(key)::bigint);

-- name: GetFoldHorizon :one
-- Where the rollups reach and the horizon: every transaction with an id below the horizon has
-- ended, so the set of committed views below it can no longer change.
SELECT folded_xid::text::bigint AS folded_xid,
       folded_id,
       pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon
FROM rollup_state;

-- name: FoldViews :one
-- Folds the next views after (after_xid, after_id) below the horizon, at most max_rows of them, into
-- the hourly, site-hourly and total rollups, and moves the fold point past them. The update of
-- rollup_state only happens while the fold point is still (after_xid, after_id); when no row comes
-- back the caller must roll back.
WITH batch AS (
    SELECT v.xid, v.id, v.path, v.viewed_at
    FROM views v
    WHERE (v.xid, v.id) > (sqlc.arg(after_xid)::bigint::text::xid8, sqlc.arg(after_id)::bigint)
      AND v.xid < sqlc.arg(horizon)::bigint::text::xid8
    ORDER BY v.xid, v.id
    LIMIT sqlc.arg(max_rows)::bigint
), per_quarter AS (
    -- One date_bin per view; the quarters are then pivoted into hours (few rows).
    SELECT b.path, date_bin('15 minutes', b.viewed_at, '2000-01-01 00:00:00+00') AS quarter, count(*) AS n
    FROM batch b
    GROUP BY 1, 2
), per_hour AS (
    SELECT pq.path,
           t.hour,
           coalesce(sum(pq.n) FILTER (WHERE pq.quarter = t.hour), 0)::bigint AS q0,
           coalesce(sum(pq.n) FILTER (WHERE pq.quarter = t.hour + interval '15 minutes'), 0)::bigint AS q1,
           coalesce(sum(pq.n) FILTER (WHERE pq.quarter = t.hour + interval '30 minutes'), 0)::bigint AS q2,
           coalesce(sum(pq.n) FILTER (WHERE pq.quarter = t.hour + interval '45 minutes'), 0)::bigint AS q3
    FROM per_quarter pq,
         LATERAL (SELECT date_bin('1 hour', pq.quarter, '2000-01-01 00:00:00+00') AS hour) t
    GROUP BY 1, 2
), up_hourly AS (
    INSERT INTO hourly_views AS h (path, hour, q0, q1, q2, q3)
    SELECT path, hour, q0, q1, q2, q3 FROM per_hour ORDER BY path, hour -- probe the key in order
    ON CONFLICT (path, hour) DO UPDATE
    SET q0 = h.q0 + excluded.q0, q1 = h.q1 + excluded.q1,
        q2 = h.q2 + excluded.q2, q3 = h.q3 + excluded.q3
), up_site AS (
    INSERT INTO site_hourly_views AS s (hour, q0, q1, q2, q3)
    SELECT hour, sum(q0), sum(q1), sum(q2), sum(q3) FROM per_hour GROUP BY hour ORDER BY hour
    ON CONFLICT (hour) DO UPDATE
    SET q0 = s.q0 + excluded.q0, q1 = s.q1 + excluded.q1,
        q2 = s.q2 + excluded.q2, q3 = s.q3 + excluded.q3
), up_totals AS (
    INSERT INTO path_totals AS t (path, views)
    SELECT path, sum(q0 + q1 + q2 + q3) FROM per_hour GROUP BY path ORDER BY path
    ON CONFLICT (path) DO UPDATE SET views = t.views + excluded.views
), last AS (
    SELECT b.xid, b.id FROM batch b ORDER BY b.xid DESC, b.id DESC LIMIT 1
)
UPDATE rollup_state AS st
SET folded_xid = last.xid,
    folded_id = last.id,
    total_views = st.total_views + (SELECT sum(n) FROM per_quarter),
    rolled_at = now()
FROM last
WHERE st.folded_xid = sqlc.arg(after_xid)::bigint::text::xid8
  AND st.folded_id = sqlc.arg(after_id)::bigint
RETURNING (SELECT sum(n) FROM per_quarter)::bigint AS folded,
          st.folded_xid::text::bigint AS folded_xid,
          st.folded_id;

-- name: MarkRolled :exec
-- Records that a rollup found nothing new, so asOf moves on.
UPDATE rollup_state SET rolled_at = now();

-- name: CountUnfolded :one
-- Views after the fold point (the not-yet-rolled tail), for progress reports.
SELECT count(*)::bigint AS n
FROM views v, rollup_state st
WHERE (v.xid, v.id) > (st.folded_xid, st.folded_id);
