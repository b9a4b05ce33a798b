-- The gateway keeps no durable state of its own: sessions live in Redis for the resume
-- window and events come from the JetStream stream. Its schema holds only the shared tables
-- every service gets (outbox, processed_events), unused for now.
SELECT 1;
