-- Owners, API keys and the job queue's records. Times are unix milliseconds (BIGINT), JSON is TEXT:
-- the same repository code runs over SQLite and PostgreSQL through sqlx's Any driver.
CREATE TABLE owners (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL REFERENCES owners(id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    is_admin     BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    owner_id         TEXT NOT NULL REFERENCES owners(id),
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL,
    priority         BIGINT NOT NULL DEFAULT 0,
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    available_at     BIGINT NOT NULL,
    lease_until      BIGINT,
    worker_id        TEXT,
    dispatched       BIGINT NOT NULL DEFAULT 0,
    progress         DOUBLE PRECISION NOT NULL DEFAULT 0,
    message          TEXT NOT NULL DEFAULT '',
    result           TEXT,
    error            TEXT,
    idempotency_key  TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT
);
CREATE UNIQUE INDEX jobs_owner_idempotency ON jobs(owner_id, idempotency_key);
CREATE INDEX jobs_runnable ON jobs(state, available_at, priority, created_at);
CREATE INDEX jobs_owner_created ON jobs(owner_id, created_at);

CREATE TABLE job_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    progress    DOUBLE PRECISION NOT NULL,
    message     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX job_events_job ON job_events(job_id, id);
