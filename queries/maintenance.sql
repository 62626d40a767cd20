-- Checking the rollups against the raw views (the raw_* views of schema/ define what they must
-- hold), and rebuilding them from the raw views. Ranges are whole UTC days: [from_day, to_day),
-- or the same as hours [from_hour, to_hour). Callers hold the rollup lock (RollupLock) while
-- rebuilding, and read verify's queries in one repeatable-read snapshot.

-- name: DiffHourly :many
-- Every hourly rollup row in the range that differs from the raw views, with both sides as
-- [q0, q1, q2, q3, n0, n1, n2, n3, visitors].
WITH r AS (
    SELECT * FROM raw_hourly_stats x WHERE x.hour >= sqlc.arg(from_hour) AND x.hour < sqlc.arg(to_hour)
), h AS (
    SELECT * FROM hourly_stats WHERE hour >= sqlc.arg(from_hour) AND hour < sqlc.arg(to_hour)
)
SELECT coalesce(r.host, h.host)::text AS host, coalesce(r.path, h.path)::text AS path,
       coalesce(r.hour, h.hour)::timestamptz AS hour,
       ARRAY[coalesce(r.q0, 0), coalesce(r.q1, 0), coalesce(r.q2, 0), coalesce(r.q3, 0),
             coalesce(r.n0, 0), coalesce(r.n1, 0), coalesce(r.n2, 0), coalesce(r.n3, 0),
             coalesce(r.visitors, 0)]::bigint[] AS raw,
       ARRAY[coalesce(h.q0, 0), coalesce(h.q1, 0), coalesce(h.q2, 0), coalesce(h.q3, 0),
             coalesce(h.n0, 0), coalesce(h.n1, 0), coalesce(h.n2, 0), coalesce(h.n3, 0),
             coalesce(h.visitors, 0)]::bigint[] AS rolled
FROM r FULL JOIN h ON r.host = h.host AND r.path = h.path AND r.hour = h.hour
WHERE (r.q0, r.q1, r.q2, r.q3, r.n0, r.n1, r.n2, r.n3, r.visitors)
      IS DISTINCT FROM (h.q0, h.q1, h.q2, h.q3, h.n0, h.n1, h.n2, h.n3, h.visitors)
ORDER BY 3, 1, 2;

-- name: DiffDaily :many
-- Every daily rollup row in the range that differs from the raw views: [views, visitors].
WITH r AS (
    SELECT * FROM raw_daily_stats WHERE day >= sqlc.arg(from_day)::date AND day < sqlc.arg(to_day)::date
), d AS (
    SELECT * FROM daily_stats WHERE day >= sqlc.arg(from_day)::date AND day < sqlc.arg(to_day)::date
)
SELECT coalesce(r.host, d.host)::text AS host, coalesce(r.path, d.path)::text AS path,
       coalesce(r.day, d.day)::date AS day,
       ARRAY[coalesce(r.views, 0), coalesce(r.visitors, 0)]::bigint[] AS raw,
       ARRAY[coalesce(d.views, 0), coalesce(d.visitors, 0)]::bigint[] AS rolled
FROM r FULL JOIN d ON r.host = d.host AND r.path = d.path AND r.day = d.day
WHERE (r.views, r.visitors) IS DISTINCT FROM (d.views, d.visitors)
ORDER BY 3, 1, 2;

-- name: DiffBreakdowns :many
-- Every breakdown row in the range that differs from the raw views: [views, visitors].
WITH r AS (
    SELECT * FROM raw_daily_breakdowns WHERE day >= sqlc.arg(from_day)::date AND day < sqlc.arg(to_day)::date
), b AS (
    SELECT * FROM daily_breakdowns WHERE day >= sqlc.arg(from_day)::date AND day < sqlc.arg(to_day)::date
)
SELECT coalesce(r.host, b.host)::text AS host, coalesce(r.path, b.path)::text AS path,
       coalesce(r.dim, b.dim)::smallint AS dim, coalesce(r.day, b.day)::date AS day,
       coalesce(r.value, b.value)::text AS value,
       ARRAY[coalesce(r.views, 0), coalesce(r.visitors, 0)]::bigint[] AS raw,
       ARRAY[coalesce(b.views, 0), coalesce(b.visitors, 0)]::bigint[] AS rolled
FROM r FULL JOIN b ON r.host = b.host AND r.path = b.path AND r.dim = b.dim AND r.day = b.day AND r.value = b.value
WHERE (r.views, r.visitors) IS DISTINCT FROM (b.views, b.visitors)
ORDER BY 4, 1, 2, 3, 5;

-- name: DiffVisitorDays :many
-- Every visitor-day of an open day in the range whose dedup state differs from the raw views.
WITH r AS (
    SELECT * FROM raw_visitor_days WHERE day >= sqlc.arg(from_day)::date AND day < sqlc.arg(to_day)::date
), d AS (
    SELECT * FROM visitor_days WHERE day >= sqlc.arg(from_day)::date AND day < sqlc.arg(to_day)::date
)
SELECT coalesce(r.day, d.day)::date AS day, coalesce(r.visitor, d.visitor)::bigint AS visitor,
       coalesce(r.host, d.host)::text AS host
FROM r FULL JOIN d ON r.day = d.day AND r.visitor = d.visitor AND r.host = d.host
WHERE (r.hours, r.paths, r.path_hours) IS DISTINCT FROM (d.hours, d.paths, d.path_hours)
ORDER BY 1, 3, 2;

-- name: DiffTotals :many
-- Every total that differs from what it must hold (raw_totals: the sum of its daily rollups and
-- of the imported counts without a date): [views, visitors].
SELECT coalesce(s.host, t.host)::text AS host, coalesce(s.path, t.path)::text AS path,
       ARRAY[coalesce(s.views, 0), coalesce(s.visitors, 0)]::bigint[] AS daily,
       ARRAY[coalesce(t.views, 0), coalesce(t.visitors, 0)]::bigint[] AS total
FROM raw_totals s FULL JOIN totals t ON s.host = t.host AND s.path = t.path
WHERE (s.views, s.visitors) IS DISTINCT FROM (t.views, t.visitors)
ORDER BY 1, 2;

-- name: DiffImportedVisitorDays :many
-- Every imported visitor-day in the range whose dedup state differs from the imported views.
WITH r AS (
    SELECT * FROM raw_imported_visitor_days WHERE day >= sqlc.arg(from_day)::date AND day < sqlc.arg(to_day)::date
), d AS (
    SELECT * FROM imported_visitor_days WHERE day >= sqlc.arg(from_day)::date AND day < sqlc.arg(to_day)::date
)
SELECT coalesce(r.day, d.day)::date AS day, coalesce(r.visitor, d.visitor)::bigint AS visitor,
       coalesce(r.host, d.host)::text AS host
FROM r FULL JOIN d ON r.day = d.day AND r.visitor = d.visitor AND r.host = d.host
WHERE (r.hours, r.paths, r.path_hours) IS DISTINCT FROM (d.hours, d.paths, d.path_hours)
ORDER BY 1, 3, 2;

-- name: GetViewRange :one
-- The first and last times of recorded and imported views, to bound a check of everything;
-- and the first day whose raw rows are all kept (PRAWN_RAW_RETENTION).
SELECT coalesce(least((SELECT min(viewed_at) FROM views), (SELECT min(viewed_at) FROM imported_views)), now())::timestamptz AS first_view,
       coalesce(greatest((SELECT max(viewed_at) FROM views), (SELECT max(viewed_at) FROM imported_views)), now())::timestamptz AS last_view,
       (SELECT raw_kept_from FROM rollup_state)::date AS raw_kept_from;

-- name: DeleteRollupDays :execrows
-- Deletes the rollups and dedup state of the days [from_day, to_day); returns the hourly rows.
WITH b AS (
    DELETE FROM daily_breakdowns WHERE day >= sqlc.arg(from_day)::date AND day < sqlc.arg(to_day)::date
), d AS (
    DELETE FROM daily_stats WHERE day >= sqlc.arg(from_day)::date AND day < sqlc.arg(to_day)::date
), v AS (
    DELETE FROM visitor_days WHERE day >= sqlc.arg(from_day)::date AND day < sqlc.arg(to_day)::date
)
DELETE FROM hourly_stats WHERE hour >= sqlc.arg(from_hour) AND hour < sqlc.arg(to_hour);

-- name: InsertHourlyFromRaw :execrows
INSERT INTO hourly_stats (host, path, hour, q0, q1, q2, q3, n0, n1, n2, n3, visitors)
SELECT x.host, x.path, x.hour, x.q0, x.q1, x.q2, x.q3, x.n0, x.n1, x.n2, x.n3, x.visitors FROM raw_hourly_stats x
WHERE x.hour >= sqlc.arg(from_hour) AND x.hour < sqlc.arg(to_hour);

-- name: InsertDailyFromHourly :exec
-- The daily rollups of [from_day, to_day) from the hourly rollups of those days.
INSERT INTO daily_stats (host, path, day, views, visitors)
SELECT host, path, (hour AT TIME ZONE 'UTC')::date, sum(views), sum(n0 + n1 + n2 + n3)
FROM hourly_stats
WHERE hour >= sqlc.arg(from_hour) AND hour < sqlc.arg(to_hour)
GROUP BY 1, 2, 3;

-- name: InsertBreakdownsFromRaw :exec
INSERT INTO daily_breakdowns (host, path, dim, day, value, views, visitors)
SELECT host, path, dim, day, value, views, visitors FROM raw_daily_breakdowns
WHERE day >= sqlc.arg(from_day)::date AND day < sqlc.arg(to_day)::date;

-- name: InsertVisitorDaysFromRaw :exec
INSERT INTO visitor_days (day, visitor, host, hours, paths, path_hours)
SELECT day, visitor, host, hours, paths, path_hours FROM raw_visitor_days
WHERE day >= sqlc.arg(from_day)::date AND day < sqlc.arg(to_day)::date;

-- name: RecomputeTotals :exec
-- Sets every total to what it must hold: the sum of its daily rollups and of the imported counts
-- without a date (raw_totals).
WITH sums AS (
    SELECT host, path, views, visitors FROM raw_totals
), gone AS (
    DELETE FROM totals t WHERE NOT EXISTS (SELECT 1 FROM sums s WHERE s.host = t.host AND s.path = t.path)
)
INSERT INTO totals AS t (host, path, views, visitors)
SELECT host, path, views, visitors FROM sums
ON CONFLICT (host, path) DO UPDATE SET views = excluded.views, visitors = excluded.visitors
WHERE (t.views, t.visitors) <> (excluded.views, excluded.visitors);

-- name: AnalyzeViews :exec
-- Gives the planner statistics of the raw views after a bulk load (seed, import, rebuild).
ANALYZE views;

-- name: VacuumRollups :exec
-- Statistics for the planner, and the visibility map that lets reads of the rollups be index-only
-- scans (their keys INCLUDE the counts): a bulk load's rollup rows are all-visible only once
-- VACUUM has seen them, and without it every index entry costs a heap page (a referrer breakdown
-- of 30 days: p99 14-16 ms after ANALYZE alone, 11-12 ms on a vacuumed database, 10 M views).
-- Without ownership of the tables (the app role) both are skipped with a warning.
VACUUM (ANALYZE) hourly_stats, daily_stats, totals, daily_breakdowns, visitor_days;

-- name: AllowSeqScans :exec
-- Lets the rest of the transaction scan whole tables (checks and rebuilds read everything).
SELECT set_config('enable_seqscan', 'on', true);

-- name: ListStaleTables :many
-- prawn's tables whose planner statistics are missing or stale: never analyzed, or more rows
-- changed since the last ANALYZE than autovacuum's default threshold (50 rows plus 10 %).
SELECT s.relname::text AS relname
FROM pg_catalog.pg_stat_user_tables s
JOIN pg_catalog.pg_class c ON c.oid = s.relid
WHERE s.relname IN ('views', 'hourly_stats', 'daily_stats', 'totals', 'daily_breakdowns', 'visitor_days')
  AND (coalesce(s.last_analyze, s.last_autoanalyze) IS NULL AND s.n_live_tup + s.n_mod_since_analyze > 0
       OR s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0));
