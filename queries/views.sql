-- Recording views.

-- name: InsertViews :execrows
-- Records a batch of views in one statement (paths and referrers are parallel arrays); an empty
-- referrer is stored as NULL.
INSERT INTO views (path, referrer)
SELECT t.p, NULLIF(t.r, '')
FROM (SELECT unnest(sqlc.arg(paths)::text[]) AS p, unnest(sqlc.arg(referrers)::text[]) AS r) AS t;

-- name: SeedViews :execrows
-- Generates n synthetic views of paths /page/0 .. /page/{paths-1} (a few paths get most views),
-- spread over the span_seconds before end_time. For benchmarks and demos (`prawn seed`).
INSERT INTO views (path, referrer, viewed_at)
SELECT '/page/' || floor(power(random(), 3) * sqlc.arg(paths)::int)::int,
       NULL,
       sqlc.arg(end_time)::timestamptz - make_interval(secs => random() * sqlc.arg(span_seconds)::float8)
FROM generate_series(1, sqlc.arg(n)::int);
