-- Incoming webhooks of the bots service. Installations of bots in servers come later, in
-- their own migration.

CREATE TABLE webhooks (
    id           bigint PRIMARY KEY,            -- snowflake; also the author id of its messages
    server_id    bigint NOT NULL,
    channel_id   bigint NOT NULL,
    name         text NOT NULL,
    avatar_url   text,
    creator_id   bigint NOT NULL,
    -- sha256 of the token (32 random bytes, shown once): a leaked table executes nothing.
    token_hash   bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_server ON webhooks (server_id, id);
CREATE INDEX webhooks_channel ON webhooks (channel_id, id);
