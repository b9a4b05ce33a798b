-- The secret GitHub signs its deliveries with (X-Hub-Signature-256), when the webhook's
-- managers set one. Kept as given: checking an HMAC needs the key itself.
ALTER TABLE webhooks ADD COLUMN github_secret text;
