-- Voice channels: how many may be in one at once (0: no limit) and the audio bitrate clients
-- aim for. Meaningful for kind 'voice' only; the API shows them as null on other kinds.
ALTER TABLE channels
    ADD COLUMN user_limit integer NOT NULL DEFAULT 0 CHECK (user_limit BETWEEN 0 AND 99),
    ADD COLUMN bitrate    integer NOT NULL DEFAULT 64000 CHECK (bitrate BETWEEN 8000 AND 384000);
