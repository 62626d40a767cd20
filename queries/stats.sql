-- Reading counts: the rollups plus the not-yet-rolled tail. Callers run these in one
-- repeatable-read transaction so rollups, fold point and tail come from the same snapshot.

-- name: GetRollupState :one
SELECT folded_xid::text::bigint AS folded_xid, folded_id, total_views, rolled_at
FROM rollup_state;

-- name: GetPathTotal :one
SELECT coalesce((SELECT views FROM path_totals WHERE path = sqlc.arg(path)), 0)::bigint AS views;

-- name: CountTail :one
-- Views after the fold point, of one path or (path NULL) of the site.
SELECT count(*)::bigint AS views
FROM views v
WHERE (v.xid, v.id) > (sqlc.arg(after_xid)::bigint::text::xid8, sqlc.arg(after_id)::bigint)
  AND (sqlc.narg(path)::text IS NULL OR v.path = sqlc.narg(path)::text);

-- name: ListPathHours :many
-- Hourly rollups of one path in [from, to).
SELECT hour, q0, q1, q2, q3
FROM hourly_views
WHERE path = sqlc.arg(path) AND hour >= sqlc.arg(from_hour) AND hour < sqlc.arg(to_hour)
ORDER BY hour;

-- name: ListSiteHours :many
-- Site-wide hourly rollups in [from, to).
SELECT hour, q0, q1, q2, q3
FROM site_hourly_views
WHERE hour >= sqlc.arg(from_hour) AND hour < sqlc.arg(to_hour)
ORDER BY hour;

-- name: ListTailQuarters :many
-- The tail in [from, to), of one path or (path NULL) of the site, counted per quarter hour.
SELECT date_bin('15 minutes', v.viewed_at, '2000-01-01 00:00:00+00')::timestamptz AS quarter,
       count(*)::bigint AS views
FROM views v
WHERE (v.xid, v.id) > (sqlc.arg(after_xid)::bigint::text::xid8, sqlc.arg(after_id)::bigint)
  AND v.viewed_at >= sqlc.arg(from_time) AND v.viewed_at < sqlc.arg(to_time)
  AND (sqlc.narg(path)::text IS NULL OR v.path = sqlc.narg(path)::text)
GROUP BY 1
ORDER BY 1;

-- name: ListTopPages :many
-- The most viewed paths in [from, to) (hour-aligned): rollups plus tail.
SELECT c.path, sum(c.views)::bigint AS views
FROM (
    SELECT h.path, h.views FROM hourly_views h
    WHERE h.hour >= sqlc.arg(from_hour) AND h.hour < sqlc.arg(to_hour)
    UNION ALL
    SELECT v.path, 1::bigint FROM views v
    WHERE (v.xid, v.id) > (sqlc.arg(after_xid)::bigint::text::xid8, sqlc.arg(after_id)::bigint)
      AND v.viewed_at >= sqlc.arg(from_hour) AND v.viewed_at < sqlc.arg(to_hour)
) c
GROUP BY c.path
ORDER BY views DESC, c.path
LIMIT sqlc.arg(max_pages)::int;

-- name: Ping :one
SELECT 1::int AS ok;
