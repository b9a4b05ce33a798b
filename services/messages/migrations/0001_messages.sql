-- Messages, reactions and the users projection of the messages service.

-- Who authors are, fed by auth's user.* events (and by asking auth on a miss).
CREATE TABLE users (
    id          bigint PRIMARY KEY,
    username    text NOT NULL,
    avatar_url  text,
    deleted     boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE messages (
    id                bigint PRIMARY KEY,          -- snowflake: creation time order
    server_id         bigint NOT NULL,
    channel_id        bigint NOT NULL,
    author_id         bigint NOT NULL,
    content           text NOT NULL,
    nonce             text,
    reply_to_id       bigint,
    mention_user_ids  bigint[] NOT NULL DEFAULT '{}',
    mention_role_ids  bigint[] NOT NULL DEFAULT '{}',
    mention_everyone  boolean NOT NULL DEFAULT false,
    has_link          boolean NOT NULL DEFAULT false,
    has_attachment    boolean NOT NULL DEFAULT false,
    pinned_at         timestamptz,
    edited_at         timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    -- Words in their English stems and as written ('simple'), so "running" finds "run" and
    -- names and other languages are found as typed. Substrings and languages written without
    -- spaces are found by the trigram index on content below.
    search            tsvector GENERATED ALWAYS AS (
                          to_tsvector('english'::regconfig, content)
                          || to_tsvector('simple'::regconfig, content)
                      ) STORED
);

-- History pages: a range scan backwards (or forwards) from a cursor within one channel.
CREATE INDEX messages_channel_history ON messages (channel_id, id);
-- A retried send with the same nonce finds the first one.
CREATE UNIQUE INDEX messages_nonce ON messages (channel_id, author_id, nonce)
    WHERE nonce IS NOT NULL;
CREATE INDEX messages_pins ON messages (channel_id, pinned_at) WHERE pinned_at IS NOT NULL;
-- Server-wide search, moderation ("delete their last day of messages"), anonymisation.
CREATE INDEX messages_server ON messages (server_id, id);
CREATE INDEX messages_author ON messages (author_id, server_id, id);
CREATE INDEX messages_search ON messages USING gin (search);
CREATE INDEX messages_content_trgm ON messages USING gin (content extensions.gin_trgm_ops);

CREATE TABLE reactions (
    message_id  bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    emoji       text NOT NULL,
    user_id     bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, emoji, user_id)
);
CREATE INDEX reactions_user ON reactions (user_id);
