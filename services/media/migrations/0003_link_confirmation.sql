-- A message's files are linked before the message commits (messages asks first), so a link
-- waits for the message's message.create event to be confirmed. A link still unconfirmed
-- after link_confirm_seconds (the message never committed: its sender crashed between link
-- and commit) goes back to the owner as an unlinked upload, which orphan cleanup removes.
ALTER TABLE media ADD COLUMN linked_at timestamptz;
ALTER TABLE media ADD COLUMN link_confirmed boolean NOT NULL DEFAULT true;
CREATE INDEX media_unconfirmed ON media (linked_at) WHERE NOT link_confirmed;

-- Released (what held the file was deleted): served to nobody, never linked again, and
-- removed by the next cleanup run if deleting it right away failed (the store was down).
ALTER TABLE media ADD COLUMN released_at timestamptz;
CREATE INDEX media_released ON media (released_at) WHERE released_at IS NOT NULL;
