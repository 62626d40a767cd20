-- Checking the rollups against the raw views, and rebuilding them from the raw views.
-- Callers hold the rollup lock (RollupLock) while rebuilding, and read verify's queries in one
-- repeatable-read snapshot.

-- name: DiffHourly :many
-- Every (path, hour) in [from_hour, to_hour) where the hourly rollup differs from the folded raw
-- views (those at or before the fold point).
WITH st AS (
    SELECT folded_xid, folded_id FROM rollup_state
), raw AS (
    SELECT v.path,
           t.hour,
           count(*) FILTER (WHERE v.viewed_at < t.hour + interval '15 minutes') AS q0,
           count(*) FILTER (WHERE v.viewed_at >= t.hour + interval '15 minutes'
                              AND v.viewed_at < t.hour + interval '30 minutes') AS q1,
           count(*) FILTER (WHERE v.viewed_at >= t.hour + interval '30 minutes'
                              AND v.viewed_at < t.hour + interval '45 minutes') AS q2,
           count(*) FILTER (WHERE v.viewed_at >= t.hour + interval '45 minutes') AS q3
    FROM views v, st,
         LATERAL (SELECT date_bin('1 hour', v.viewed_at, '2000-01-01 00:00:00+00') AS hour) t
    WHERE (v.xid, v.id) <= (st.folded_xid, st.folded_id)
      AND v.viewed_at >= sqlc.arg(from_hour) AND v.viewed_at < sqlc.arg(to_hour)
    GROUP BY 1, 2
), rolled AS (
    SELECT h.path, h.hour, h.q0, h.q1, h.q2, h.q3
    FROM hourly_views h
    WHERE h.hour >= sqlc.arg(from_hour) AND h.hour < sqlc.arg(to_hour)
)
SELECT coalesce(raw.path, rolled.path)::text AS path,
       coalesce(raw.hour, rolled.hour)::timestamptz AS hour,
       coalesce(raw.q0 + raw.q1 + raw.q2 + raw.q3, 0)::bigint AS raw_views,
       coalesce(rolled.q0 + rolled.q1 + rolled.q2 + rolled.q3, 0)::bigint AS rolled_views
FROM raw FULL JOIN rolled ON raw.path = rolled.path AND raw.hour = rolled.hour
WHERE raw.q0 IS DISTINCT FROM rolled.q0 OR raw.q1 IS DISTINCT FROM rolled.q1
   OR raw.q2 IS DISTINCT FROM rolled.q2 OR raw.q3 IS DISTINCT FROM rolled.q3
ORDER BY 2, 1;

-- name: DiffSiteHourly :many
-- Every hour in [from_hour, to_hour) where the site rollup differs from the sum of the path rollups.
WITH per_path AS (
    SELECT h.hour, sum(h.q0) AS q0, sum(h.q1) AS q1, sum(h.q2) AS q2, sum(h.q3) AS q3
    FROM hourly_views h
    WHERE h.hour >= sqlc.arg(from_hour) AND h.hour < sqlc.arg(to_hour)
    GROUP BY h.hour
), site AS (
    SELECT s.hour, s.q0, s.q1, s.q2, s.q3 FROM site_hourly_views s
    WHERE s.hour >= sqlc.arg(from_hour) AND s.hour < sqlc.arg(to_hour)
)
SELECT coalesce(p.hour, s.hour)::timestamptz AS hour,
       coalesce(p.q0 + p.q1 + p.q2 + p.q3, 0)::bigint AS path_views,
       coalesce(s.q0 + s.q1 + s.q2 + s.q3, 0)::bigint AS site_views
FROM per_path p FULL JOIN site s ON p.hour = s.hour
WHERE coalesce(p.q0, 0) <> coalesce(s.q0, 0) OR coalesce(p.q1, 0) <> coalesce(s.q1, 0)
   OR coalesce(p.q2, 0) <> coalesce(s.q2, 0) OR coalesce(p.q3, 0) <> coalesce(s.q3, 0)
ORDER BY 1;

-- name: DiffPathTotals :many
-- Every path whose all-time total differs from the sum of its hourly rollups.
WITH sums AS (
    SELECT h.path, sum(h.views)::bigint AS views FROM hourly_views h GROUP BY h.path
)
SELECT coalesce(s.path, t.path)::text AS path,
       coalesce(s.views, 0)::bigint AS hourly_views,
       coalesce(t.views, 0)::bigint AS total_views
FROM sums s FULL JOIN path_totals t ON s.path = t.path
WHERE coalesce(s.views, 0) <> coalesce(t.views, 0)
ORDER BY 1;

-- name: GetTotalsCheck :one
-- The site total kept by the rollup and the sum of the path totals; they must agree.
SELECT st.total_views,
       coalesce((SELECT sum(views) FROM path_totals), 0)::bigint AS path_totals_sum
FROM rollup_state st;

-- name: GetViewRange :one
-- The first and last view times, to bound a verification of everything.
SELECT coalesce(min(viewed_at), now())::timestamptz AS first_view,
       coalesce(max(viewed_at), now())::timestamptz AS last_view
FROM views;

-- name: DeleteHourlyRange :execrows
DELETE FROM hourly_views WHERE hour >= sqlc.arg(from_hour) AND hour < sqlc.arg(to_hour);

-- name: InsertHourlyFromViews :execrows
-- Recomputes the hourly rollups of [from_hour, to_hour) from the folded raw views.
INSERT INTO hourly_views (path, hour, q0, q1, q2, q3)
SELECT v.path,
       t.hour,
       count(*) FILTER (WHERE v.viewed_at < t.hour + interval '15 minutes'),
       count(*) FILTER (WHERE v.viewed_at >= t.hour + interval '15 minutes'
                          AND v.viewed_at < t.hour + interval '30 minutes'),
       count(*) FILTER (WHERE v.viewed_at >= t.hour + interval '30 minutes'
                          AND v.viewed_at < t.hour + interval '45 minutes'),
       count(*) FILTER (WHERE v.viewed_at >= t.hour + interval '45 minutes')
FROM views v, rollup_state st,
     LATERAL (SELECT date_bin('1 hour', v.viewed_at, '2000-01-01 00:00:00+00') AS hour) t
WHERE (v.xid, v.id) <= (st.folded_xid, st.folded_id)
  AND v.viewed_at >= sqlc.arg(from_hour) AND v.viewed_at < sqlc.arg(to_hour)
GROUP BY 1, 2;

-- name: DeleteSiteHourlyRange :exec
DELETE FROM site_hourly_views WHERE hour >= sqlc.arg(from_hour) AND hour < sqlc.arg(to_hour);

-- name: InsertSiteHourlyFromHourly :exec
-- Recomputes the site rollups of [from_hour, to_hour) from the path rollups.
INSERT INTO site_hourly_views (hour, q0, q1, q2, q3)
SELECT h.hour, sum(h.q0), sum(h.q1), sum(h.q2), sum(h.q3)
FROM hourly_views h
WHERE h.hour >= sqlc.arg(from_hour) AND h.hour < sqlc.arg(to_hour)
GROUP BY h.hour;

-- name: RecomputePathTotals :exec
-- Sets every path's total to the sum of its hourly rollups.
WITH sums AS (
    SELECT h.path, sum(h.views)::bigint AS views FROM hourly_views h GROUP BY h.path
), gone AS (
    DELETE FROM path_totals t WHERE NOT EXISTS (SELECT 1 FROM sums s WHERE s.path = t.path)
)
INSERT INTO path_totals AS t (path, views)
SELECT path, views FROM sums
ON CONFLICT (path) DO UPDATE SET views = excluded.views WHERE t.views <> excluded.views;

-- name: RecomputeSiteTotal :exec
-- Sets the site total to the sum of the hourly rollups.
UPDATE rollup_state
SET total_views = (SELECT coalesce(sum(views), 0) FROM hourly_views);
