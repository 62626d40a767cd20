-- +goose Up
-- Queue ingest (PRAWN_INGEST_MODE=queue): the api function gives every view it accepts an id (a
-- UUIDv7, so ids sort by the time they were accepted) and sends it to SQS, which delivers at
-- least once. The consume function writes a batch of views with one statement that first inserts
-- their ids here (ON CONFLICT DO NOTHING) and then only the views whose id was new, so a view
-- that SQS delivers twice, or that a consumer wrote before it was killed, is stored once and the
-- rollups never see it twice. Ids are pruned once no copy of their message can exist any more
-- (queue.DedupWindow, longer than the dead-letter queue's retention); the key's order is the
-- accepted time, so pruning is a range of the primary key and needs no other index.
CREATE TABLE accepted_views (
    id uuid PRIMARY KEY
);

-- +goose Down
DROP TABLE accepted_views;
