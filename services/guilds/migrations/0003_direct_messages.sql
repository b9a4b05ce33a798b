-- Direct messages, group DMs and relationships (friends, requests, blocks).
-- (0002 is voice's; numbering may have a gap in a checkout without it.)

-- DM channels live beside server channels but in their own table: they have no server,
-- roles, overwrites or positions, and their access is "a participant, or nobody".
CREATE TABLE dm_channels (
    id                bigint PRIMARY KEY,            -- snowflake, unique with server channels
    kind              text        NOT NULL CHECK (kind IN ('dm', 'group_dm')),
    name              text,                          -- group DMs
    icon_id           text,                          -- group DMs
    owner_id          bigint,                        -- group DMs: adds and removes people
    -- 1:1 DMs only: "low:high" user ids, so that opening it twice finds the same channel.
    pair_key          text UNIQUE,
    -- Its newest message's id (snowflakes are time-ordered), its own id while it has none:
    -- the DM list is ordered by it, newest first.
    last_activity_id  bigint      NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dm_participants (
    channel_id  bigint      NOT NULL REFERENCES dm_channels (id) ON DELETE CASCADE,
    user_id     bigint      NOT NULL,
    joined_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX dm_participants_user ON dm_participants (user_id, channel_id);

-- One row per direction: (user_id, other_id) is the entry in user_id's list.
-- A friendship is two 'friend' rows; a request is 'outgoing' for the sender and 'incoming'
-- for the recipient; a block is one 'blocked' row of the one who blocked (the blocked
-- person has no row: they are not told).
CREATE TABLE relationships (
    user_id     bigint      NOT NULL,
    other_id    bigint      NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('friend', 'incoming', 'outgoing', 'blocked')),
    since       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, other_id),
    CHECK (user_id <> other_id)
);

-- Per-server privacy: may the other members of this server open a DM with me? (default on)
ALTER TABLE members ADD COLUMN allow_dms boolean NOT NULL DEFAULT true;

-- Finding a user by name for a friend request.
CREATE INDEX users_username ON users (lower(username)) WHERE NOT deleted;
