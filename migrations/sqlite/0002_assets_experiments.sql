-- Files a job made (charts, renders), stored under the data dir's assets folder; and the
-- experiments recorded for a campaign, summarised by /api/analytics/campaigns/{id}.
CREATE TABLE assets (
    id            TEXT PRIMARY KEY,
    owner_id      TEXT NOT NULL REFERENCES owners(id),
    job_id        TEXT,
    name          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    bytes         BIGINT NOT NULL,
    path          TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX assets_owner_job ON assets (owner_id, job_id);

CREATE TABLE experiments (
    id           TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL REFERENCES owners(id),
    campaign_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    data         TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX experiments_campaign ON experiments (owner_id, campaign_id, created_at);
