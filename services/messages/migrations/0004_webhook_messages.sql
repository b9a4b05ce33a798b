-- Messages posted by incoming webhooks (services/bots): the author id is the webhook's id,
-- shown with the name and avatar of the execution (author_name / author_avatar_url, which
-- win over the users projection), and the message may carry embeds (as the execution gave
-- them, validated by bots against Discord's limits).
ALTER TABLE messages ADD COLUMN webhook_id bigint;
ALTER TABLE messages ADD COLUMN author_name text;
ALTER TABLE messages ADD COLUMN author_avatar_url text;
ALTER TABLE messages ADD COLUMN embeds jsonb NOT NULL DEFAULT '[]';
