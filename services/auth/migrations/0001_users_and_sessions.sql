CREATE TABLE users (
    id                    bigint PRIMARY KEY,                 -- snowflake
    username              text        NOT NULL,
    email                 text,                               -- lower-cased; NULL once deleted
    password_hash         text,                               -- argon2id; NULL once deleted
    avatar_url            text,
    status                text        NOT NULL DEFAULT 'online',
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- Access tokens issued before this instant are dead (logout-all, password change,
    -- deletion). The Redis mark every service reads is rebuilt from it at start-up.
    tokens_revoked_before timestamptz,
    deleted_at            timestamptz,
    CONSTRAINT users_status_known CHECK (status IN ('online', 'idle', 'dnd', 'invisible'))
);

-- Case-insensitive uniqueness; a deleted account frees its name and address.
CREATE UNIQUE INDEX users_username_unique ON users (lower(username)) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX users_email_unique ON users (email) WHERE email IS NOT NULL;
CREATE INDEX users_deleted_at ON users (deleted_at) WHERE deleted_at IS NOT NULL;

-- One row per login (device): the family every rotated refresh token of that login belongs to.
CREATE TABLE sessions (
    id             bigint PRIMARY KEY,                        -- snowflake; the token's `sid`
    user_id        bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text,
    user_agent     text,
    ip             text
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Refresh tokens are 256-bit random strings; only their SHA-256 is kept. A token is used
-- once: rotation stamps used_at, and presenting a used token revokes the whole session.
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    session_id  bigint      NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
