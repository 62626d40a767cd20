-- Recording views.

-- name: InsertViews :execrows
-- Records a batch of views in one statement. The arguments are parallel arrays, one element per
-- view; an empty string stores NULL (unknown), and so does a visitor of 0.
INSERT INTO views (host, path, referrer, ref_host, utm_source, utm_medium, utm_campaign,
                   browser, os, device, country, visitor)
SELECT t.host, t.path, NULLIF(t.referrer, ''), NULLIF(t.ref_host, ''), NULLIF(t.utm_source, ''),
       NULLIF(t.utm_medium, ''), NULLIF(t.utm_campaign, ''), NULLIF(t.browser, ''), NULLIF(t.os, ''),
       NULLIF(t.device, ''), NULLIF(t.country, ''), NULLIF(t.visitor, 0)
FROM (SELECT unnest(sqlc.arg(hosts)::text[]) AS host,
             unnest(sqlc.arg(paths)::text[]) AS path,
             unnest(sqlc.arg(referrers)::text[]) AS referrer,
             unnest(sqlc.arg(ref_hosts)::text[]) AS ref_host,
             unnest(sqlc.arg(utm_sources)::text[]) AS utm_source,
             unnest(sqlc.arg(utm_mediums)::text[]) AS utm_medium,
             unnest(sqlc.arg(utm_campaigns)::text[]) AS utm_campaign,
             unnest(sqlc.arg(browsers)::text[]) AS browser,
             unnest(sqlc.arg(oses)::text[]) AS os,
             unnest(sqlc.arg(devices)::text[]) AS device,
             unnest(sqlc.arg(countries)::text[]) AS country,
             unnest(sqlc.arg(visitors)::bigint[]) AS visitor) AS t;

-- name: InsertAcceptedViews :execrows
-- Records a batch of queued views in one statement: the ids not seen before are added to
-- accepted_views, and only their views are inserted, with the time each was accepted, in that
-- order. A view whose id is already there (a redelivered message) is skipped; so is a second
-- copy within the batch. Returns the views inserted.
WITH input AS (
    SELECT unnest(sqlc.arg(ids)::uuid[]) AS id,
           unnest(sqlc.arg(viewed_at)::timestamptz[]) AS viewed_at,
           unnest(sqlc.arg(hosts)::text[]) AS host,
           unnest(sqlc.arg(paths)::text[]) AS path,
           unnest(sqlc.arg(referrers)::text[]) AS referrer,
           unnest(sqlc.arg(ref_hosts)::text[]) AS ref_host,
           unnest(sqlc.arg(utm_sources)::text[]) AS utm_source,
           unnest(sqlc.arg(utm_mediums)::text[]) AS utm_medium,
           unnest(sqlc.arg(utm_campaigns)::text[]) AS utm_campaign,
           unnest(sqlc.arg(browsers)::text[]) AS browser,
           unnest(sqlc.arg(oses)::text[]) AS os,
           unnest(sqlc.arg(devices)::text[]) AS device,
           unnest(sqlc.arg(countries)::text[]) AS country,
           unnest(sqlc.arg(visitors)::bigint[]) AS visitor
), fresh AS (
    INSERT INTO accepted_views (id)
    SELECT DISTINCT i.id FROM input i
    ON CONFLICT (id) DO NOTHING
    RETURNING id
)
INSERT INTO views (host, path, referrer, ref_host, utm_source, utm_medium, utm_campaign,
                   browser, os, device, country, visitor, viewed_at)
SELECT DISTINCT ON (i.viewed_at, i.id)
       i.host, i.path, NULLIF(i.referrer, ''), NULLIF(i.ref_host, ''), NULLIF(i.utm_source, ''),
       NULLIF(i.utm_medium, ''), NULLIF(i.utm_campaign, ''), NULLIF(i.browser, ''), NULLIF(i.os, ''),
       NULLIF(i.device, ''), NULLIF(i.country, ''), NULLIF(i.visitor, 0), i.viewed_at
FROM input i JOIN fresh f ON f.id = i.id
ORDER BY i.viewed_at, i.id;

-- name: PruneAcceptedViews :execrows
-- Forgets at most max_rows ids older than before (a UUIDv7 of the cutoff time): the oldest first,
-- a range of the primary key.
DELETE FROM accepted_views
WHERE id IN (SELECT a.id FROM accepted_views a WHERE a.id < sqlc.arg(before)::uuid ORDER BY a.id LIMIT sqlc.arg(max_rows)::int);

-- name: SeedViews :execrows
-- Generates n synthetic views of host, of paths /page/0 .. /page/{paths-1} (a few paths get most
-- views), spread over the span_seconds before end_time, with visitor ids drawn from
-- 1 .. visitor_pool (a visitor-day is an id on one day), referrers from `referrers` hosts and the
-- other dimensions drawn from short lists, in time order. For benchmarks and demos (`prawn seed`).
INSERT INTO views (host, path, referrer, ref_host, utm_source, utm_medium, utm_campaign,
                   browser, os, device, country, visitor, viewed_at)
SELECT sqlc.arg(host)::text,
       '/page/' || floor(power(random(), 3) * sqlc.arg(paths)::int)::int,
       CASE WHEN r.ref IS NOT NULL THEN 'https://' || r.ref || '/' END,
       r.ref,
       CASE WHEN random() < 0.05 THEN (ARRAY['newsletter', 'twitter', 'github', 'reddit'])[1 + floor(random() * 4)::int] END,
       CASE WHEN random() < 0.05 THEN (ARRAY['email', 'social', 'cpc'])[1 + floor(random() * 3)::int] END,
       CASE WHEN random() < 0.03 THEN 'launch-' || floor(random() * 5)::int END,
       (ARRAY['Chrome', 'Firefox', 'Safari', 'Edge', 'Samsung Internet'])[1 + floor(power(random(), 2) * 5)::int],
       (ARRAY['Windows', 'macOS', 'iOS', 'Android', 'Linux'])[1 + floor(random() * 5)::int],
       (ARRAY['desktop', 'mobile', 'tablet'])[1 + floor(power(random(), 2) * 3)::int],
       (ARRAY['US', 'DE', 'IN', 'GB', 'FR', 'BR', 'JP', 'CA', 'NL', 'SE'])[1 + floor(power(random(), 2) * 10)::int],
       1 + floor(random() * sqlc.arg(visitor_pool)::int)::bigint,
       sqlc.arg(end_time)::timestamptz - make_interval(secs => random() * sqlc.arg(span_seconds)::float8) AS viewed_at
FROM generate_series(1, sqlc.arg(n)::int) AS g(i),
     LATERAL (SELECT CASE WHEN g.i > 0 AND random() < 0.4
                          THEN 'ref' || floor(power(random(), 2) * sqlc.arg(referrers)::int)::int || '.example'
                     END AS ref) AS r
ORDER BY viewed_at; -- recorded in time order, as live views are
