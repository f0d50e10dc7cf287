-- The campaign loop's rows: ad sets and creatives of a campaign, deployments to ad platforms with
-- the platform's ids recorded step by step (the ledger that makes a retried deployment create
-- nothing twice), daily metrics per ad, the agents' runs (planner and optimizer, with every tool
-- call) and the optimizer's proposed actions. Every row carries its owner; money is integer
-- micros of the campaign's currency; days are YYYY-MM-DD in the account's time zone.
ALTER TABLE campaigns ADD COLUMN auto_apply BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN plan TEXT;

CREATE TABLE ad_sets (
    id                   TEXT PRIMARY KEY,
    owner_id             TEXT NOT NULL REFERENCES owners(id),
    campaign_id          TEXT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    platform             TEXT NOT NULL,
    name                 TEXT NOT NULL,
    targeting            TEXT NOT NULL,
    daily_budget_micros  BIGINT NOT NULL,
    status               TEXT NOT NULL,
    version              BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX ad_sets_campaign ON ad_sets (owner_id, campaign_id, created_at);

CREATE TABLE creatives (
    id           TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL REFERENCES owners(id),
    campaign_id  TEXT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    platform     TEXT NOT NULL,
    name         TEXT NOT NULL,
    copy         TEXT NOT NULL,
    assets       TEXT NOT NULL,
    status       TEXT NOT NULL,
    job_id       TEXT,
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX creatives_campaign ON creatives (owner_id, campaign_id, created_at, id);

CREATE TABLE deployments (
    id           TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL REFERENCES owners(id),
    campaign_id  TEXT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    platform     TEXT NOT NULL,
    status       TEXT NOT NULL,
    job_id       TEXT,
    error        TEXT,
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (campaign_id, platform)
);
CREATE INDEX deployments_owner ON deployments (owner_id, created_at, id);

CREATE TABLE deployment_objects (
    deployment_id  TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    owner_id       TEXT NOT NULL REFERENCES owners(id),
    platform       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    local_id       TEXT NOT NULL,
    external_id    TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (deployment_id, kind, local_id)
);
CREATE INDEX deployment_objects_external ON deployment_objects (platform, external_id);

CREATE TABLE metrics (
    deployment_id    TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    ad_external_id   TEXT NOT NULL,
    day              TEXT NOT NULL,
    owner_id         TEXT NOT NULL REFERENCES owners(id),
    campaign_id      TEXT NOT NULL,
    creative_id      TEXT,
    platform         TEXT NOT NULL,
    impressions      BIGINT NOT NULL,
    clicks           BIGINT NOT NULL,
    spend_micros     BIGINT NOT NULL,
    conversions      DOUBLE PRECISION NOT NULL,
    revenue_micros   BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (deployment_id, ad_external_id, day)
);
CREATE INDEX metrics_owner_campaign ON metrics (owner_id, campaign_id, day);

CREATE TABLE agent_runs (
    id           TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL REFERENCES owners(id),
    campaign_id  TEXT REFERENCES campaigns(id) ON DELETE CASCADE,
    agent        TEXT NOT NULL,
    seed         BIGINT NOT NULL,
    input        TEXT NOT NULL,
    trace        TEXT NOT NULL,
    output       TEXT,
    status       TEXT NOT NULL,
    error        TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX agent_runs_campaign ON agent_runs (owner_id, campaign_id, created_at);

CREATE TABLE actions (
    id           TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL REFERENCES owners(id),
    campaign_id  TEXT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    run_id       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    params       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    status       TEXT NOT NULL,
    result       TEXT,
    created_at   BIGINT NOT NULL,
    decided_at   BIGINT
);
CREATE INDEX actions_campaign ON actions (owner_id, campaign_id, created_at);
