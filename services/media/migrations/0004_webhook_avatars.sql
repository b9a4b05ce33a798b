-- A webhook's avatar (services/bots links it, kind 'webhook'; released with webhook.delete).
ALTER TABLE media DROP CONSTRAINT media_linked_kind_check;
ALTER TABLE media ADD CONSTRAINT media_linked_kind_check
    CHECK (linked_kind IN ('message', 'user', 'server', 'webhook'));
