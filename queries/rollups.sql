-- Folding views into the rollups, closing visitor days and keeping the daily salts.
-- Every statement here that writes rollups runs under the rollup lock (see docs/rollups.md).

-- name: TryRollupLock :one
-- Serialises rollups: held until the transaction ends.
SELECT pg_try_advisory_xact_lock(sqlc.arg(key)::bigint)::boolean AS locked;

-- name: RollupLock :exec
-- Waits for any running rollup, then holds the lock until the transaction ends.
SELECT pg_advisory_xact_lock(sqlc.arg(key)::bigint);

-- name: TryFoldLock :one
-- Serialises rollups (the lock is held until the transaction ends), and makes the rest of the
-- fold transaction read views in primary-key order instead of sorting them, whatever the table
-- statistics say (after a bulk load they may say nothing yet).
SELECT pg_try_advisory_xact_lock(sqlc.arg(key)::bigint)::boolean AS locked,
       set_config('enable_sort', 'off', true)::text AS sort;

-- name: FoldLock :exec
-- Waits for any running rollup, then holds the lock until the transaction ends; as TryFoldLock.
SELECT pg_advisory_xact_lock(sqlc.arg(key)::bigint), set_config('enable_sort', 'off', true);

-- name: GetFoldState :one
-- Where the rollups reach, the horizon (every transaction with an id below it has ended, so the
-- set of committed views below it can no longer change) and the first day open for visitors.
SELECT folded_xid::text::bigint AS folded_xid,
       folded_id,
       pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon,
       visitors_open_from
FROM rollup_state;

-- name: ListFoldBatch :many
-- The next views after (after_xid, after_id) below the horizon, at most max_rows, in fold order.
-- Unknown dimensions come back as ''.
SELECT v.xid::text::bigint AS xid, v.id, v.host, v.path, v.viewed_at, coalesce(v.visitor, 0)::bigint AS visitor,
       coalesce(v.ref_host, '')::text AS ref_host, coalesce(v.referrer, '')::text AS referrer,
       coalesce(v.utm_source, '')::text AS utm_source, coalesce(v.utm_medium, '')::text AS utm_medium,
       coalesce(v.utm_campaign, '')::text AS utm_campaign, coalesce(v.browser, '')::text AS browser,
       coalesce(v.os, '')::text AS os, coalesce(v.device, '')::text AS device, coalesce(v.country, '')::text AS country
FROM views v
WHERE (v.xid, v.id) > (sqlc.arg(after_xid)::bigint::text::xid8, sqlc.arg(after_id)::bigint)
  AND v.xid < sqlc.arg(horizon)::bigint::text::xid8
ORDER BY v.xid, v.id
LIMIT sqlc.arg(max_rows)::bigint;

-- name: ListVisitorDays :many
-- The dedup state of the given visitor-days (parallel arrays); the ones without a row are new.
SELECT d.day, d.visitor, d.host, d.hours, d.paths::text[] AS paths, d.path_hours
FROM (SELECT unnest(sqlc.arg(days)::date[]) AS day,
             unnest(sqlc.arg(visitors)::bigint[]) AS visitor,
             unnest(sqlc.arg(hosts)::text[]) AS host) AS k
CROSS JOIN LATERAL (
    SELECT * FROM visitor_days d WHERE d.day = k.day AND d.visitor = k.visitor AND d.host = k.host
) d;

-- name: ApplyFold :execrows
-- Applies a batch's increments to every rollup, writes the dedup state of the visitor-days it
-- created or changed, and moves the fold point past the batch, in one statement: all of it or
-- none. The fold point moves only if it is still where the batch started (a compare-and-set:
-- when no row changes the caller must roll back), and only with move_fold_point (an import adds
-- its increments without it). The arguments are parallel arrays per rollup.
-- A visitor-day's paths are joined by U+001F, which no path can contain, and its paths' hours
-- by ",".
WITH hourly AS (
    INSERT INTO hourly_stats AS h (host, path, hour, q0, q1, q2, q3, n0, n1, n2, n3, visitors)
    SELECT unnest(sqlc.arg(h_hosts)::text[]), unnest(sqlc.arg(h_paths)::text[]), unnest(sqlc.arg(h_hours)::timestamptz[]),
           unnest(sqlc.arg(h_q0)::bigint[]), unnest(sqlc.arg(h_q1)::bigint[]), unnest(sqlc.arg(h_q2)::bigint[]),
           unnest(sqlc.arg(h_q3)::bigint[]), unnest(sqlc.arg(h_n0)::bigint[]), unnest(sqlc.arg(h_n1)::bigint[]),
           unnest(sqlc.arg(h_n2)::bigint[]), unnest(sqlc.arg(h_n3)::bigint[]), unnest(sqlc.arg(h_visitors)::bigint[])
    ON CONFLICT (host, path, hour) DO UPDATE
    SET q0 = h.q0 + excluded.q0, q1 = h.q1 + excluded.q1, q2 = h.q2 + excluded.q2, q3 = h.q3 + excluded.q3,
        n0 = h.n0 + excluded.n0, n1 = h.n1 + excluded.n1, n2 = h.n2 + excluded.n2, n3 = h.n3 + excluded.n3,
        visitors = h.visitors + excluded.visitors
), days AS (
    SELECT unnest(sqlc.arg(d_hosts)::text[]) AS host, unnest(sqlc.arg(d_paths)::text[]) AS path,
           unnest(sqlc.arg(d_days)::date[]) AS day, unnest(sqlc.arg(d_views)::bigint[]) AS views,
           unnest(sqlc.arg(d_visitors)::bigint[]) AS visitors
), daily AS (
    INSERT INTO daily_stats AS s (host, path, day, views, visitors)
    SELECT d.host, d.path, d.day, d.views, d.visitors FROM days d
    ON CONFLICT (host, path, day) DO UPDATE
    SET views = s.views + excluded.views, visitors = s.visitors + excluded.visitors
), total AS (
    INSERT INTO totals AS t (host, path, views, visitors)
    SELECT d.host, d.path, sum(d.views), sum(d.visitors) FROM days d GROUP BY 1, 2
    ON CONFLICT (host, path) DO UPDATE
    SET views = t.views + excluded.views, visitors = t.visitors + excluded.visitors
), breakdown AS (
    INSERT INTO daily_breakdowns AS b (host, path, dim, day, value, views, visitors)
    SELECT unnest(sqlc.arg(b_hosts)::text[]), unnest(sqlc.arg(b_paths)::text[]), unnest(sqlc.arg(b_dims)::smallint[]),
           unnest(sqlc.arg(b_days)::date[]), unnest(sqlc.arg(b_values)::text[]), unnest(sqlc.arg(b_views)::bigint[]),
           unnest(sqlc.arg(b_visitors)::bigint[])
    ON CONFLICT (host, path, dim, day, value) DO UPDATE
    SET views = b.views + excluded.views, visitors = b.visitors + excluded.visitors
), visitor_state AS (
    INSERT INTO visitor_days AS d (day, visitor, host, hours, paths, path_hours)
    SELECT k.day, k.visitor, k.host, k.hours, string_to_array(k.paths, E'\x1f'), string_to_array(k.path_hours, ',')::integer[]
    FROM (SELECT unnest(sqlc.arg(v_days)::date[]) AS day, unnest(sqlc.arg(v_visitors)::bigint[]) AS visitor,
                 unnest(sqlc.arg(v_hosts)::text[]) AS host, unnest(sqlc.arg(v_hours)::integer[]) AS hours,
                 unnest(sqlc.arg(v_paths)::text[]) AS paths, unnest(sqlc.arg(v_path_hours)::text[]) AS path_hours) AS k
    ON CONFLICT (day, visitor, host) DO UPDATE
    SET hours = excluded.hours, paths = excluded.paths, path_hours = excluded.path_hours
)
UPDATE rollup_state
SET folded_xid = sqlc.arg(to_xid)::bigint::text::xid8, folded_id = sqlc.arg(to_id)::bigint, rolled_at = now()
WHERE sqlc.arg(move_fold_point)::boolean
  AND folded_xid = sqlc.arg(after_xid)::bigint::text::xid8 AND folded_id = sqlc.arg(after_id)::bigint;

-- name: MarkRolled :exec
-- Records that a rollup found nothing new, so asOf moves on.
UPDATE rollup_state SET rolled_at = now();

-- name: CountUnfolded :one
-- Views after the fold point (the not-yet-rolled tail), for progress reports.
SELECT count(*)::bigint AS n
FROM views v, rollup_state st
WHERE (v.xid, v.id) > (st.folded_xid, st.folded_id);

-- name: CloseVisitorDays :one
-- Closes every open day that ended at least close_after ago and has no view left in the tail:
-- records where the fold stood (visitor_day_closes), deletes the days' dedup state and moves
-- visitors_open_from. Returns the first day still open.
WITH st AS (
    SELECT visitors_open_from AS open_from, folded_xid, folded_id FROM rollup_state
), target AS (
    SELECT least(((now() - make_interval(secs => sqlc.arg(close_after_seconds)::float8)) AT TIME ZONE 'UTC')::date,
                 coalesce((SELECT min((v.viewed_at AT TIME ZONE 'UTC')::date)
                           FROM views v
                           WHERE (v.xid, v.id) > (st.folded_xid, st.folded_id)), 'infinity'::date)) AS day
    FROM st
), closing AS (
    SELECT d::date AS day
    FROM st, target, generate_series(st.open_from, target.day - 1, interval '1 day') AS d
), recorded AS (
    INSERT INTO visitor_day_closes (day, folded_xid, folded_id)
    SELECT c.day, st.folded_xid, st.folded_id FROM closing c, st
    ON CONFLICT (day) DO NOTHING
), dropped AS (
    DELETE FROM visitor_days d USING target WHERE d.day < target.day
)
UPDATE rollup_state AS r
SET visitors_open_from = greatest(r.visitors_open_from, target.day)
FROM target
RETURNING r.visitors_open_from;

-- name: GetSalt :one
-- The salt of a UTC day, created when it does not exist yet; no salt is created for a day that
-- ended more than an hour ago (its salt is gone for good).
WITH made AS (
    INSERT INTO visitor_salts (day, salt)
    SELECT sqlc.arg(day)::date, sqlc.arg(new_salt)::bytea
    WHERE sqlc.arg(day)::date >= ((now() - interval '1 hour') AT TIME ZONE 'UTC')::date
    ON CONFLICT (day) DO NOTHING
    RETURNING salt
)
SELECT salt FROM made
UNION ALL
SELECT salt FROM visitor_salts WHERE day = sqlc.arg(day)::date
LIMIT 1;

-- name: DeleteExpiredSalts :execrows
-- Deletes the salts of days that ended more than an hour ago.
DELETE FROM visitor_salts WHERE day < ((now() - interval '1 hour') AT TIME ZONE 'UTC')::date;

-- name: TailAtLeast :one
-- Whether at least n views wait to be folded (reads at most n rows of the tail).
SELECT EXISTS (
    SELECT 1 FROM views v, rollup_state st
    WHERE (v.xid, v.id) > (st.folded_xid, st.folded_id)
    OFFSET sqlc.arg(n)::int - 1
) AS at_least;
