-- A message's server, so a server's deletion releases its messages' files; and the lookups
-- that releasing does (by what a file is linked to, by channel, by server).
ALTER TABLE media ADD COLUMN server_id bigint;
CREATE INDEX media_linked ON media (linked_kind, linked_to) WHERE linked_to IS NOT NULL;
CREATE INDEX media_channel ON media (channel_id) WHERE channel_id IS NOT NULL;
CREATE INDEX media_server ON media (server_id) WHERE server_id IS NOT NULL;
