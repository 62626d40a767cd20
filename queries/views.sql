-- Recording views.

-- name: InsertViews :execrows
-- Records a batch of views in one statement (paths and referrers are parallel arrays); an empty
-- referrer is stored as NULL.
INSERT INTO views (path, referrer)
SELECT t.p, NULLIF(t.r, '')
FROM (SELECT unnest(sqlc.arg(paths)::text[]) AS p, unnest(sqlc.arg(referrers)::text[]) AS r) AS t;
