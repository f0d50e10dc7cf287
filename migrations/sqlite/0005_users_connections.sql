-- Users who sign in with a password (argon2id PHC strings) and get JWT sessions; one-time setup
-- tokens for the first admin (only their SHA-256 is kept); and the ad-platform connections of an
-- owner, whose tokens are sealed with AES-256-GCM (`v1:<key id>:<base64(nonce || ciphertext)>`,
-- the additional data binding owner, platform and account) so that a copy of the database alone
-- reveals none. `version` grows by one on every write, so key rotation and token refreshes never
-- overwrite each other.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    owner_id       TEXT NOT NULL REFERENCES owners(id),
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    disabled_at    BIGINT
);
CREATE INDEX users_owner ON users (owner_id);

CREATE TABLE setup_tokens (
    hash        TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

CREATE TABLE platform_connections (
    id                 TEXT PRIMARY KEY,
    owner_id           TEXT NOT NULL REFERENCES owners(id),
    platform           TEXT NOT NULL,
    account_id         TEXT NOT NULL,
    currency           TEXT NOT NULL,
    time_zone          TEXT NOT NULL,
    page_id            TEXT,
    identity_id        TEXT,
    customer_id        TEXT,
    login_customer_id  TEXT,
    secret_ciphertext  TEXT NOT NULL,
    secret_key_id      TEXT NOT NULL,
    token_expires_at   BIGINT,
    version            BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (owner_id, platform, account_id)
);
CREATE INDEX platform_connections_owner ON platform_connections (owner_id, platform, created_at);
CREATE INDEX platform_connections_key ON platform_connections (secret_key_id, id);
