-- Files uploaded to the object store. A row exists only once its object is complete (the
-- object is written first, then the row): an object without a row is an orphan that cleanup
-- sweeps; a row is deleted only after its object is.
CREATE TABLE media (
    id            bigint PRIMARY KEY,                 -- snowflake
    owner_id      bigint      NOT NULL,
    purpose       text        NOT NULL CHECK (purpose IN ('avatar', 'icon', 'attachment')),
    filename      text        NOT NULL,
    content_type  text        NOT NULL,               -- sniffed from the bytes, as served
    -- 'attachment' for anything a browser could execute (HTML, SVG, JS…): downloaded, never
    -- rendered on our origin.
    disposition   text        NOT NULL CHECK (disposition IN ('inline', 'attachment')),
    size          bigint      NOT NULL CHECK (size > 0),
    width         integer,
    height        integer,
    object_key    text        NOT NULL UNIQUE,
    state         text        NOT NULL DEFAULT 'ready' CHECK (state IN ('pending', 'ready')),
    -- What uses the file (set by the service that links it): an attachment's message and its
    -- channel (who may see it), a user's avatar, a server's icon. NULL: an orphan after a day.
    linked_kind   text        CHECK (linked_kind IN ('message', 'user', 'server')),
    linked_to     bigint,
    channel_id    bigint,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_owner ON media (owner_id);
CREATE INDEX media_unlinked ON media (created_at) WHERE linked_to IS NULL;

CREATE TABLE thumbnails (
    media_id    bigint  NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    size        integer NOT NULL,                     -- the longest side it fits in
    width       integer NOT NULL,
    height      integer NOT NULL,
    object_key  text    NOT NULL UNIQUE,
    PRIMARY KEY (media_id, size)
);
