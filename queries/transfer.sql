-- Importing history (prawn import) and keeping raw views for a while (PRAWN_RAW_RETENTION).
-- Exports are COPY statements over the export_views view of schema/00004 (internal/storage).
-- Every import statement runs in a chunk's transaction, under the rollup lock.

-- name: GetImportChunk :one
-- The chunk already imported with this content hash, if any.
SELECT id, source, first_line, last_line, rows, views, committed_at FROM import_chunks WHERE hash = sqlc.arg(hash)::bytea;

-- name: InsertImportChunk :one
INSERT INTO import_chunks (hash, format, source, first_line, last_line, rows, views, skipped)
VALUES (sqlc.arg(hash)::bytea, sqlc.arg(format)::text, sqlc.arg(source)::text, sqlc.arg(first_line)::bigint,
        sqlc.arg(last_line)::bigint, sqlc.arg(rows)::bigint, sqlc.arg(views)::bigint, sqlc.arg(skipped)::bigint)
RETURNING id;

-- name: LastImportedID :one
-- The last id of imported_views: the next rows follow it, in the order they are folded.
SELECT coalesce(max(id), 0)::bigint AS id FROM imported_views;

-- name: CopyImportedViews :copyfrom
INSERT INTO imported_views (id, chunk, host, path, viewed_at, n, visitor, referrer, ref_host, utm_source,
                            utm_medium, utm_campaign, browser, os, device, country)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16);

-- name: ListImportedVisitorDays :many
-- The dedup state of the given imported visitor-days (parallel arrays); the ones without a row are new.
SELECT d.day, d.visitor, d.host, d.hours, d.paths::text[] AS paths, d.path_hours
FROM (SELECT unnest(sqlc.arg(days)::date[]) AS day,
             unnest(sqlc.arg(visitors)::bigint[]) AS visitor,
             unnest(sqlc.arg(hosts)::text[]) AS host) AS k
CROSS JOIN LATERAL (
    SELECT * FROM imported_visitor_days d WHERE d.day = k.day AND d.visitor = k.visitor AND d.host = k.host
) d;

-- name: UpsertImportedVisitorDays :exec
-- Writes the dedup state of imported visitor-days (parallel arrays; paths joined by U+001F,
-- path_hours by ",", as UpsertVisitorDays).
INSERT INTO imported_visitor_days AS d (day, visitor, host, hours, paths, path_hours)
SELECT k.day, k.visitor, k.host, k.hours, string_to_array(k.paths, E'\x1f'), string_to_array(k.path_hours, ',')::integer[]
FROM (SELECT unnest(sqlc.arg(days)::date[]) AS day,
             unnest(sqlc.arg(visitors)::bigint[]) AS visitor,
             unnest(sqlc.arg(hosts)::text[]) AS host,
             unnest(sqlc.arg(hours)::integer[]) AS hours,
             unnest(sqlc.arg(paths)::text[]) AS paths,
             unnest(sqlc.arg(path_hours)::text[]) AS path_hours) AS k
ON CONFLICT (day, visitor, host) DO UPDATE
SET hours = excluded.hours, paths = excluded.paths, path_hours = excluded.path_hours;

-- name: AddTotalsOnly :exec
-- Adds views to all-time totals alone: imported counts without a date.
INSERT INTO totals AS t (host, path, views, visitors)
SELECT unnest(sqlc.arg(hosts)::text[]), unnest(sqlc.arg(paths)::text[]), unnest(sqlc.arg(views)::bigint[]), 0
ON CONFLICT (host, path) DO UPDATE SET views = t.views + excluded.views;

-- name: AnalyzeImported :exec
ANALYZE imported_views, imported_visitor_days, import_chunks;

-- name: GetExportState :one
-- What an export must know of the rollups: the first day still open for visitors (no visitor id
-- of it or later is written) and the first day whose raw rows are all kept.
SELECT visitors_open_from, raw_kept_from FROM rollup_state;

-- name: GetExportDays :one
-- The first and last UTC days with views, from the rollups (a small table), the views not yet
-- folded (the tail, by the primary key) and the imported views (by their index): what an export
-- without a range covers, found without reading every view. found is false when there are none.
WITH d AS (
    SELECT min(day) AS lo, max(day) AS hi FROM daily_stats WHERE path = ''
), t AS (
    SELECT min((v.viewed_at AT TIME ZONE 'UTC')::date) AS lo, max((v.viewed_at AT TIME ZONE 'UTC')::date) AS hi
    FROM views v, rollup_state st WHERE (v.xid, v.id) > (st.folded_xid, st.folded_id)
), i AS (
    SELECT (min(viewed_at) AT TIME ZONE 'UTC')::date AS lo, (max(viewed_at) AT TIME ZONE 'UTC')::date AS hi FROM imported_views
)
SELECT coalesce(least(d.lo, t.lo, i.lo), current_date)::date AS first_day,
       coalesce(greatest(d.hi, t.hi, i.hi), current_date)::date AS last_day,
       (least(d.lo, t.lo, i.lo) IS NOT NULL)::boolean AS found
FROM d, t, i;

-- name: ListDayViews :many
-- The views of each UTC day in [from_day, to_day) in the daily rollups, of one host (or every
-- host when host is NULL): what an export of those days about holds, for its progress.
SELECT d.day, sum(d.views)::bigint AS views
FROM daily_stats d
WHERE d.path = '' AND (sqlc.narg(host)::text IS NULL OR d.host = sqlc.narg(host)::text)
  AND d.day >= sqlc.arg(from_day)::date AND d.day < sqlc.arg(to_day)::date
GROUP BY d.day
ORDER BY d.day;

-- name: MoveRawKeptFrom :one
-- Raw retention, step one: declares the raw rows of the days before keep_from (never of a day
-- still open for visitors) as going, before any is deleted. Returns the new first kept day and
-- the fold point (only folded views are deleted).
UPDATE rollup_state
SET raw_kept_from = greatest(raw_kept_from, least(sqlc.arg(keep_from)::date, visitors_open_from))
RETURNING raw_kept_from, folded_xid::text::bigint AS folded_xid, folded_id;

-- name: DeleteOldViews :execrows
-- Raw retention, step two: deletes at most max_rows folded views from before the first kept day.
DELETE FROM views
WHERE (xid, id) IN (
    SELECT v.xid, v.id FROM views v
    WHERE v.viewed_at < sqlc.arg(before)::timestamptz
      AND (v.xid, v.id) <= (sqlc.arg(folded_xid)::bigint::text::xid8, sqlc.arg(folded_id)::bigint)
    LIMIT sqlc.arg(max_rows)::int
);

-- name: DeleteOldImportedViews :execrows
-- Raw retention: deletes at most max_rows imported views from before the first kept day.
DELETE FROM imported_views
WHERE id IN (
    SELECT i.id FROM imported_views i WHERE i.viewed_at < sqlc.arg(before)::timestamptz LIMIT sqlc.arg(max_rows)::int
);

-- name: GetRawKeptFrom :one
SELECT raw_kept_from FROM rollup_state;

-- name: CopyImportedVisitorDays :copyfrom
-- Writes the dedup state of imported visitor-days new to the rollups.
INSERT INTO imported_visitor_days (day, visitor, host, hours, paths, path_hours) VALUES ($1, $2, $3, $4, $5, $6);
