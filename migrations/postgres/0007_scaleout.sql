-- Scale-out: each job names the lane it needs (`any`, `text`, `image`): only workers that load
-- the model a lane stands for take its jobs. Workers announce themselves with a heartbeat.
ALTER TABLE jobs ADD COLUMN lane TEXT NOT NULL DEFAULT 'any';

CREATE TABLE workers (
    id          TEXT PRIMARY KEY,
    -- Base URL of its inference API (http://host:port), if it serves one.
    url         TEXT,
    host        TEXT NOT NULL,
    device      TEXT NOT NULL,
    -- JSON arrays: the models it has loaded and the lanes it takes jobs from.
    models      TEXT NOT NULL,
    lanes       TEXT NOT NULL,
    capacity    BIGINT NOT NULL,
    running     BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL
);
CREATE INDEX workers_last_seen ON workers (last_seen);
