-- Read states and notification settings (docs/decisions.md, "Read states").

-- What each user has read in each channel (server channels and DMs alike): one small row,
-- moved only forwards. Channels a user never acked have no row (read up to nothing).
CREATE TABLE read_states (
    user_id       bigint      NOT NULL,
    channel_id    bigint      NOT NULL,
    last_read_id  bigint      NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, channel_id)
);

-- Mention counts scan only messages that mention someone: a small part of any channel.
CREATE INDEX messages_mentions ON messages (channel_id, id)
    WHERE mention_everyone OR mention_user_ids <> '{}' OR mention_role_ids <> '{}';

-- Per user and scope (a server's id or a channel's, DMs included): how much to notify, and a
-- mute until a time. A channel's row overrides its server's; a NULL level inherits it.
CREATE TABLE notification_settings (
    user_id      bigint      NOT NULL,
    scope_id     bigint      NOT NULL,
    level        text        CHECK (level IN ('all', 'mentions', 'nothing')),
    muted_until  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, scope_id)
);
