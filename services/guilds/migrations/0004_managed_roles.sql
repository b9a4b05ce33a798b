-- Bots installed in servers (the bots service asks guilds over NATS): an installed bot is a
-- member holding one *managed* role, named after it, with exactly the permissions it was
-- granted. managed_by is that bot's user id; NULL for every ordinary role. The role routes
-- refuse to edit, delete or assign a managed role: only the installation changes it.
ALTER TABLE roles ADD COLUMN managed_by bigint;
CREATE UNIQUE INDEX roles_managed ON roles (server_id, managed_by) WHERE managed_by IS NOT NULL;
