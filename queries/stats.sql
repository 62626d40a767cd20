-- Reading counts: the rollups plus the not-yet-folded tail. Callers run these in one
-- repeatable-read transaction so rollups, fold point and tail come from the same snapshot.
-- Every rollup read names its hosts (host = ANY(hosts)) and its scope (a path, or '' for whole
-- hosts), so it is a primary-key range whatever the table statistics say.

-- name: GetRollupState :one
-- The fold point, and how many views wait after it (of every host, the canary's too), counted to
-- at most tail_limit: a read learns whether the tail is too long to count itself by walking
-- tail_limit entries of the primary key, not the whole tail. When the caller holds the tail's
-- counts for this snapshot's fold point (cache_xid, cache_id: see GetSiteViews), only the views
-- from cache_horizon on are counted (cached), and the caller adds its counts. (The ORDER BY keeps
-- the plan on the key: without it a planner that guesses a third of the table is tail scans the
-- table from its start, through all the folded views first.)
WITH st AS (
    SELECT s.folded_xid, s.folded_id, s.rolled_at, s.visitors_open_from,
           (s.folded_xid, s.folded_id) = (sqlc.arg(cache_xid)::bigint::text::xid8, sqlc.arg(cache_id)::bigint) AS cached
    FROM rollup_state s
), b AS (
    SELECT CASE WHEN st.cached THEN sqlc.arg(cache_horizon)::bigint::text::xid8 ELSE st.folded_xid END AS xid,
           CASE WHEN st.cached THEN 0 ELSE st.folded_id END AS id
    FROM st
)
SELECT st.folded_xid::text::bigint AS folded_xid, st.folded_id, st.rolled_at, st.visitors_open_from, st.cached,
       (SELECT count(*) FROM (SELECT 1 FROM views v WHERE (v.xid, v.id) > (b.xid, b.id)
                              ORDER BY v.xid, v.id LIMIT sqlc.arg(tail_limit)::bigint) t)::bigint AS tail_views
FROM st, b;

-- name: ListHosts :many
-- Every host with views: those in the rollups and those only in the tail, except the reserved
-- host of the synthetic canary view (storage.CanaryHost), which reads of every host leave out.
SELECT t.host::text AS host FROM totals t WHERE t.path = '' AND t.host <> 'canary.prawn.invalid'
UNION
SELECT DISTINCT v.host::text FROM views v
WHERE (v.xid, v.id) > (sqlc.arg(after_xid)::bigint::text::xid8, sqlc.arg(after_id)::bigint)
  AND v.host <> 'canary.prawn.invalid'
ORDER BY 1;

-- name: GetTotals :one
-- All-time views and visitors of a scope, summed over hosts, in the rollups.
SELECT coalesce(sum(t.views), 0)::bigint AS views, coalesce(sum(t.visitors), 0)::bigint AS visitors
FROM totals t
WHERE t.host = ANY(sqlc.arg(hosts)::text[]) AND t.path = sqlc.arg(scope)::text;

-- name: ListHostTotals :many
-- All-time views and visitors of every host but the canary's, in the rollups.
SELECT t.host::text AS host, t.views, t.visitors FROM totals t
WHERE t.path = '' AND t.host <> 'canary.prawn.invalid'
ORDER BY t.views DESC, t.host;

-- name: ListTailViews :many
-- The views after the fold point of some hosts, of one path or, with path '', of all paths, in
-- fold order, as the fold would read them (unknown dimensions as ''). The caller has counted the
-- whole tail in the same snapshot first (GetRollupState), so this reads at most that many rows.
SELECT v.xid::text::bigint AS xid, v.id, v.host, v.path, v.viewed_at, coalesce(v.visitor, 0)::bigint AS visitor,
       coalesce(v.ref_host, '')::text AS ref_host, coalesce(v.referrer, '')::text AS referrer,
       coalesce(v.utm_source, '')::text AS utm_source, coalesce(v.utm_medium, '')::text AS utm_medium,
       coalesce(v.utm_campaign, '')::text AS utm_campaign, coalesce(v.browser, '')::text AS browser,
       coalesce(v.os, '')::text AS os, coalesce(v.device, '')::text AS device, coalesce(v.country, '')::text AS country
FROM views v
WHERE (v.xid, v.id) > (sqlc.arg(after_xid)::bigint::text::xid8, sqlc.arg(after_id)::bigint)
  AND v.host = ANY(sqlc.arg(hosts)::text[])
  AND (sqlc.arg(path)::text = '' OR v.path = sqlc.arg(path)::text)
ORDER BY v.xid, v.id;

-- name: ListHours :many
-- Hourly rollups of a scope of hosts in [from_hour, to_hour), one row per host and hour, in no
-- promised order: an index-only scan (its leaf pages hold the counts) and no aggregate (sum() over
-- bigint has a numeric state: 2 ms for a 30-day series); the caller sorts and sums the hosts.
SELECT h.hour, h.q0, h.q1, h.q2, h.q3, h.n0, h.n1, h.n2, h.n3, h.visitors
FROM hourly_stats h
WHERE h.host = ANY(sqlc.arg(hosts)::text[]) AND h.path = sqlc.arg(scope)::text
  AND h.hour >= sqlc.arg(from_hour) AND h.hour < sqlc.arg(to_hour);

-- name: ListDays :many
-- Daily rollups of a scope in [from_day, to_day), summed over hosts.
SELECT d.day, sum(d.views)::bigint AS views, sum(d.visitors)::bigint AS visitors
FROM daily_stats d
WHERE d.host = ANY(sqlc.arg(hosts)::text[]) AND d.path = sqlc.arg(scope)::text
  AND d.day >= sqlc.arg(from_day)::date AND d.day < sqlc.arg(to_day)::date
GROUP BY d.day
ORDER BY d.day;

-- name: ListDayTops :many
-- For each host and each day in [from_day, to_day): its k most viewed paths, most viewed first
-- (the daily_stats_top_idx index, read in order).
SELECT h.host::text AS host, d.day::date AS day, t.path::text AS path, t.views
FROM unnest(sqlc.arg(hosts)::text[]) AS h(host)
CROSS JOIN generate_series(sqlc.arg(from_day)::date, sqlc.arg(to_day)::date - 1, interval '1 day') AS d(day)
CROSS JOIN LATERAL (
    SELECT s.path, s.views FROM daily_stats s
    WHERE s.host = h.host AND s.day = d.day::date AND s.path <> ''
    ORDER BY s.views DESC, s.path
    LIMIT sqlc.arg(k)::int
) t;

-- name: SumPages :many
-- Views and visitors of the given (host, path) pairs in [from, to): the whole days
-- [full_from, full_to) from daily rollups, the hours before and after them from hourly rollups.
SELECT c.host::text AS host, c.path::text AS path,
       (coalesce(dd.views, 0) + coalesce(hh.views, 0))::bigint AS views,
       (coalesce(dd.visitors, 0) + coalesce(hh.visitors, 0))::bigint AS visitors
FROM (SELECT unnest(sqlc.arg(hosts)::text[]) AS host,
             unnest(sqlc.arg(paths)::text[]) AS path) AS c
CROSS JOIN LATERAL (
    SELECT sum(s.views) AS views, sum(s.visitors) AS visitors FROM daily_stats s
    WHERE s.host = c.host AND s.path = c.path
      AND s.day >= sqlc.arg(full_from)::date AND s.day < sqlc.arg(full_to)::date
) dd
CROSS JOIN LATERAL (
    SELECT sum(h.views) AS views, sum(h.n0 + h.n1 + h.n2 + h.n3) AS visitors FROM hourly_stats h
    WHERE h.host = c.host AND h.path = c.path
      AND ((h.hour >= sqlc.arg(from_hour) AND h.hour < sqlc.arg(full_from_hour))
        OR (h.hour >= sqlc.arg(full_to_hour) AND h.hour < sqlc.arg(to_hour)))
) hh;

-- name: ListBreakdown :many
-- The values of one dimension of a scope in [from_day, to_day), most viewed first, at most
-- max_values of them, each with the sums over every value (so callers know the rest).
SELECT b.value::text AS value, sum(b.views)::bigint AS views, sum(b.visitors)::bigint AS visitors,
       (sum(sum(b.views)) OVER ())::bigint AS all_views, (sum(sum(b.visitors)) OVER ())::bigint AS all_visitors,
       (count(*) OVER ())::bigint AS all_values
FROM daily_breakdowns b
WHERE b.host = ANY(sqlc.arg(hosts)::text[]) AND b.path = sqlc.arg(scope)::text AND b.dim = sqlc.arg(dim)::smallint
  AND b.day >= sqlc.arg(from_day)::date AND b.day < sqlc.arg(to_day)::date
GROUP BY b.value
ORDER BY 2 DESC, 1
LIMIT sqlc.arg(max_values)::int;

-- name: Ping :one
SELECT 1::int AS ok;

-- The counters below read all-time views in one statement each, so from one snapshot (no
-- transaction needed): the rollups' totals, plus the views not yet folded. The tail is the views
-- after the fold point; a counter counts them itself, unless the caller holds the tail's counts
-- (storage.tailCounts: the views after the fold point (cache_xid, cache_id) whose transaction id is
-- below cache_horizon, counted by CountTailScopes): when this snapshot's fold point is that one,
-- the counter counts only the views from cache_horizon on, and says so (cached), and the caller
-- adds its counts. With cache_xid = cache_id = cache_horizon = 0 the counter counts the whole
-- tail. walked is how many tail entries the counter walked to count its part: the cost that the
-- tail's counts save.

-- name: GetSiteViews :one
-- All-time views of every host but the canary's.
SELECT (st.folded_xid, st.folded_id) = (sqlc.arg(cache_xid)::bigint::text::xid8, sqlc.arg(cache_id)::bigint) AS cached,
       coalesce((SELECT sum(t.views) FROM totals t WHERE t.path = '' AND t.host <> 'canary.prawn.invalid'), 0)::bigint AS rolled,
       c.walked, c.views AS tail
FROM rollup_state st, LATERAL (
    SELECT count(*)::bigint AS walked, (count(*) FILTER (WHERE v.host <> 'canary.prawn.invalid'))::bigint AS views
    FROM views v WHERE (v.xid, v.id) > (
        CASE WHEN (st.folded_xid, st.folded_id) = (sqlc.arg(cache_xid)::bigint::text::xid8, sqlc.arg(cache_id)::bigint)
             THEN sqlc.arg(cache_horizon)::bigint::text::xid8 ELSE st.folded_xid END,
        CASE WHEN (st.folded_xid, st.folded_id) = (sqlc.arg(cache_xid)::bigint::text::xid8, sqlc.arg(cache_id)::bigint)
             THEN 0 ELSE st.folded_id END)
) c;

-- name: GetPathViews :one
-- All-time views of one path of every host but the canary's. A path's totals are found through
-- the hosts' own rows (totals_hosts_idx), one key each.
SELECT (st.folded_xid, st.folded_id) = (sqlc.arg(cache_xid)::bigint::text::xid8, sqlc.arg(cache_id)::bigint) AS cached,
       coalesce((SELECT sum(t.views) FROM totals h JOIN totals t ON t.host = h.host AND t.path = sqlc.arg(path)::text
                 WHERE h.path = '' AND h.host <> 'canary.prawn.invalid'), 0)::bigint AS rolled,
       c.walked, c.views AS tail
FROM rollup_state st, LATERAL (
    SELECT count(*)::bigint AS walked,
           (count(*) FILTER (WHERE v.host <> 'canary.prawn.invalid' AND v.path = sqlc.arg(path)::text))::bigint AS views
    FROM views v WHERE (v.xid, v.id) > (
        CASE WHEN (st.folded_xid, st.folded_id) = (sqlc.arg(cache_xid)::bigint::text::xid8, sqlc.arg(cache_id)::bigint)
             THEN sqlc.arg(cache_horizon)::bigint::text::xid8 ELSE st.folded_xid END,
        CASE WHEN (st.folded_xid, st.folded_id) = (sqlc.arg(cache_xid)::bigint::text::xid8, sqlc.arg(cache_id)::bigint)
             THEN 0 ELSE st.folded_id END)
) c;

-- name: GetScopeViews :one
-- All-time views of a scope (a path, or '' for the whole host) of one host.
SELECT (st.folded_xid, st.folded_id) = (sqlc.arg(cache_xid)::bigint::text::xid8, sqlc.arg(cache_id)::bigint) AS cached,
       coalesce((SELECT t.views FROM totals t WHERE t.host = sqlc.arg(host)::text AND t.path = sqlc.arg(scope)::text), 0)::bigint AS rolled,
       c.walked, c.views AS tail
FROM rollup_state st, LATERAL (
    SELECT count(*)::bigint AS walked,
           (count(*) FILTER (WHERE v.host = sqlc.arg(host)::text
                              AND (sqlc.arg(scope)::text = '' OR v.path = sqlc.arg(scope)::text)))::bigint AS views
    FROM views v WHERE (v.xid, v.id) > (
        CASE WHEN (st.folded_xid, st.folded_id) = (sqlc.arg(cache_xid)::bigint::text::xid8, sqlc.arg(cache_id)::bigint)
             THEN sqlc.arg(cache_horizon)::bigint::text::xid8 ELSE st.folded_xid END,
        CASE WHEN (st.folded_xid, st.folded_id) = (sqlc.arg(cache_xid)::bigint::text::xid8, sqlc.arg(cache_id)::bigint)
             THEN 0 ELSE st.folded_id END)
) c;

-- name: CountTailScopes :many
-- The tail's counts per host and path (the caller adds up each host's): the views after this
-- snapshot's fold point whose transaction id is below the horizon (every transaction with an id
-- below it has ended, so that set of views can no longer change while the fold point stays).
-- When this snapshot's fold point is from_xid/from_id, only the views from from_horizon on are
-- counted (the caller holds the counts below it, and adds these: incremental); else all of them.
-- One row per host and path, at most max_paths, or one row of no views when there is none. Only
-- one such count runs at a time in the database, whichever process asks (the advisory lock
-- lock_key, held for the statement): counted is false, and nothing is counted, when another runs.
WITH st AS (
    SELECT s.folded_xid, s.folded_id,
           (s.folded_xid, s.folded_id) = (sqlc.arg(from_xid)::bigint::text::xid8, sqlc.arg(from_id)::bigint) AS incremental,
           pg_snapshot_xmin(pg_current_snapshot()) AS horizon,
           pg_try_advisory_xact_lock(sqlc.arg(lock_key)::bigint) AS counted
    FROM rollup_state s
), b AS (
    SELECT CASE WHEN st.incremental THEN sqlc.arg(from_horizon)::bigint::text::xid8 ELSE st.folded_xid END AS xid,
           CASE WHEN st.incremental THEN 0 ELSE st.folded_id END AS id
    FROM st
)
SELECT st.folded_xid::text::bigint AS folded_xid, st.folded_id, st.horizon::text::bigint AS horizon, st.incremental, st.counted,
       coalesce(c.host, '')::text AS host, coalesce(c.path, '')::text AS path, coalesce(c.views, 0)::bigint AS views
FROM st CROSS JOIN b LEFT JOIN LATERAL (
    SELECT v.host::text AS host, v.path::text AS path, count(*)::bigint AS views
    FROM views v
    WHERE st.counted AND (v.xid, v.id) > (b.xid, b.id) AND v.xid < st.horizon
    GROUP BY 1, 2
    LIMIT sqlc.arg(max_paths)::int
) c ON true;

-- name: CountTailFrom :one
-- How many views have a transaction id from from_xid on (every one after the fold point once
-- from_xid is above it), counted to at most max_rows: the walk is of max_rows entries of the
-- primary key at most.
SELECT count(*)::bigint AS views
FROM (SELECT 1 FROM views v WHERE (v.xid, v.id) > (sqlc.arg(from_xid)::bigint::text::xid8, 0)
      ORDER BY v.xid, v.id LIMIT sqlc.arg(max_rows)::bigint) t;
