-- Outgoing webhooks: a server's managers register an endpoint URL and the event types it
-- receives; each matching event becomes a delivery (a signed POST), retried with backoff.
CREATE TABLE outgoing_endpoints (
    id            bigint PRIMARY KEY,
    server_id     bigint NOT NULL,
    creator_id    bigint NOT NULL,
    -- Whose view deliveries respect: an installed bot's, else the creator's. Events of a
    -- channel that one cannot view are not delivered.
    viewer_id     bigint NOT NULL,
    url           text NOT NULL,
    event_types   text[] NOT NULL,
    -- The HMAC-SHA256 key (32 random bytes, base64url; shown once). Kept as given: signing
    -- needs the key itself.
    secret        text NOT NULL,
    enabled       boolean NOT NULL DEFAULT true,
    failures      integer NOT NULL DEFAULT 0,     -- deliveries failed in a row
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outgoing_endpoints_server ON outgoing_endpoints (server_id) WHERE enabled;

CREATE TABLE outgoing_deliveries (
    id              bigint PRIMARY KEY,
    endpoint_id     bigint NOT NULL REFERENCES outgoing_endpoints (id) ON DELETE CASCADE,
    event_id        bigint NOT NULL,
    event_type      text NOT NULL,
    body            bytea NOT NULL,                 -- the JSON delivered, signed as is
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,                        -- the receiver's HTTP status
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (endpoint_id, event_id)                  -- a redelivered event is one delivery
);
CREATE INDEX outgoing_deliveries_due ON outgoing_deliveries (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX outgoing_deliveries_endpoint ON outgoing_deliveries (endpoint_id, id DESC);
