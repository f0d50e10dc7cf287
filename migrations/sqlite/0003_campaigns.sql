-- Campaigns: what an owner plans and deploys. `version` grows by one on every write; updates
-- name the version they read (the API's ETag / If-Match), so two editors cannot overwrite each
-- other. Money is integer micros of the campaign's currency.
CREATE TABLE campaigns (
    id                   TEXT PRIMARY KEY,
    owner_id             TEXT NOT NULL REFERENCES owners(id),
    name                 TEXT NOT NULL,
    objective            TEXT NOT NULL,
    status               TEXT NOT NULL,
    currency             TEXT NOT NULL,
    daily_budget_micros  BIGINT NOT NULL,
    start_date           TEXT NOT NULL,
    end_date             TEXT,
    platforms            TEXT NOT NULL,
    brief                TEXT,
    version              BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX campaigns_owner_created ON campaigns (owner_id, created_at, id);
