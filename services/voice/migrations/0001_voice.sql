-- Who is in which voice channel: at most one row per user (one voice channel across all their
-- devices), leased to the gateway session that joined. The gateway renews the lease while the
-- session is connected; a row past expires_at is swept (its session or gateway is gone).
CREATE TABLE voice_states (
    user_id     bigint PRIMARY KEY,
    server_id   bigint      NOT NULL,
    channel_id  bigint      NOT NULL,
    session_id  text        NOT NULL UNIQUE,
    self_mute   boolean     NOT NULL DEFAULT false,
    self_deaf   boolean     NOT NULL DEFAULT false,
    suppress    boolean     NOT NULL DEFAULT false,  -- joined without SPEAK
    joined_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX voice_states_channel ON voice_states (channel_id);
CREATE INDEX voice_states_server ON voice_states (server_id);
CREATE INDEX voice_states_expiry ON voice_states (expires_at);

-- A moderator's server mute/deafen outlives the voice state: leaving and joining again does
-- not lift it (as Discord's member mute). Gone with the member (left, kicked, banned).
CREATE TABLE voice_moderation (
    server_id  bigint  NOT NULL,
    user_id    bigint  NOT NULL,
    mute       boolean NOT NULL DEFAULT false,
    deaf       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (server_id, user_id)
);
