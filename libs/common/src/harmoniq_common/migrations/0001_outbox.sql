-- The transactional outbox every service writes its durable events into, in the same
-- transaction as the change they describe; harmoniq_common.outbox relays them to JetStream.
CREATE TABLE outbox (
    id          bigint PRIMARY KEY,            -- snowflake; also the Nats-Msg-Id (dedup)
    subject     text        NOT NULL,
    payload     bytea       NOT NULL,
    headers     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Consumers record what they have applied so redelivery is harmless (idempotency).
CREATE TABLE processed_events (
    consumer    text        NOT NULL,
    event_id    bigint      NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
