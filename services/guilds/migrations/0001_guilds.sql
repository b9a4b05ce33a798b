-- Users as guilds knows them: a display projection fed by auth's user.* events.
CREATE TABLE users (
    id          bigint PRIMARY KEY,
    username    text        NOT NULL,
    avatar_url  text,
    deleted     boolean     NOT NULL DEFAULT false
);

CREATE TABLE servers (
    id          bigint PRIMARY KEY,                -- snowflake; also the default role's id
    name        text        NOT NULL,
    description text,
    icon_id     text,
    owner_id    bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE members (
    server_id   bigint      NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    user_id     bigint      NOT NULL,
    nickname    text,
    joined_at   timestamptz NOT NULL DEFAULT now(),
    -- Joined through a temporary invite: removed when they leave the last session (later).
    temporary   boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (server_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

-- position: higher is more powerful; the default role ("member", id = server id) is 0.
CREATE TABLE roles (
    id          bigint PRIMARY KEY,
    server_id   bigint      NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    name        text        NOT NULL,
    permissions bigint      NOT NULL,
    position    integer     NOT NULL,
    color       integer     NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX roles_server ON roles (server_id, position);

CREATE TABLE member_roles (
    server_id   bigint NOT NULL,
    user_id     bigint NOT NULL,
    role_id     bigint NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (server_id, user_id, role_id),
    FOREIGN KEY (server_id, user_id) REFERENCES members (server_id, user_id) ON DELETE CASCADE
);

CREATE TABLE channels (
    id          bigint PRIMARY KEY,
    server_id   bigint      NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    kind        text        NOT NULL CHECK (kind IN ('text', 'voice', 'category')),
    name        text        NOT NULL,
    topic       text,
    position    integer     NOT NULL DEFAULT 0,
    parent_id   bigint      REFERENCES channels (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX channels_server ON channels (server_id, position);

CREATE TABLE overwrites (
    channel_id  bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    target_kind text   NOT NULL CHECK (target_kind IN ('role', 'member')),
    target_id   bigint NOT NULL,
    allow_bits  bigint NOT NULL DEFAULT 0,
    deny_bits   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, target_kind, target_id)
);

CREATE TABLE invites (
    code        text PRIMARY KEY,                  -- 10 random base62 characters
    server_id   bigint      NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    channel_id  bigint      REFERENCES channels (id) ON DELETE CASCADE,
    creator_id  bigint      NOT NULL,
    max_uses    integer,                           -- NULL: unlimited
    uses        integer     NOT NULL DEFAULT 0,
    expires_at  timestamptz,                       -- NULL: never
    temporary   boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX invites_server ON invites (server_id) WHERE revoked_at IS NULL;

CREATE TABLE bans (
    server_id   bigint      NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    user_id     bigint      NOT NULL,
    reason      text,
    banned_by   bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_id, user_id)
);

CREATE TABLE audit_log (
    id          bigint PRIMARY KEY,                -- snowflake: time-ordered
    server_id   bigint      NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    actor_id    bigint      NOT NULL,
    action      text        NOT NULL,
    target_id   bigint,
    reason      text,
    changes     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_server ON audit_log (server_id, id DESC);
