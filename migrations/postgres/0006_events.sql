-- Updates out and webhooks in. `events` is the window that `/api/events` replays after a
-- Last-Event-ID: ids increase in commit order, and the newest rows of each owner are kept (a
-- count and an age bound, pruned in bounded batches). `webhook_deliveries` records every
-- delivery whose signature was verified: one row per owner whose objects it named, and one row
-- without an owner for the object ids no deployment knows. Forged deliveries leave no row.
CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    owner_id    TEXT NOT NULL REFERENCES owners(id),
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX events_owner ON events (owner_id, id);
CREATE INDEX events_created ON events (created_at);

CREATE TABLE webhook_deliveries (
    id           TEXT PRIMARY KEY,
    platform     TEXT NOT NULL,
    owner_id     TEXT REFERENCES owners(id),
    verified     TEXT NOT NULL,
    body_sha256  TEXT NOT NULL,
    object_ids   TEXT NOT NULL,
    received_at  BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_owner ON webhook_deliveries (owner_id, received_at);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);
