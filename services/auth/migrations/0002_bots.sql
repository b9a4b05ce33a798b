-- Bot accounts: users without e-mail or password, owned by the user who made them, who
-- authenticate with a long-lived token (`Authorization: Bot <id>.<secret>`). Only the token's
-- SHA-256 is kept; every service checks it through the Redis copy auth keeps of it.
ALTER TABLE users
    ADD COLUMN bot_owner_id   bigint REFERENCES users (id) ON DELETE CASCADE,
    ADD COLUMN bot_token_hash bytea;

CREATE INDEX users_bot_owner ON users (bot_owner_id) WHERE bot_owner_id IS NOT NULL;
