-- Each message's files as media described them when they were linked (id, name, size, type,
-- dimensions, the media routes that serve them): shown with the message without asking media.
-- has_image / has_file feed search's has=image and has=file.
ALTER TABLE messages ADD COLUMN attachments jsonb NOT NULL DEFAULT '[]';
ALTER TABLE messages ADD COLUMN has_image boolean NOT NULL DEFAULT false;
ALTER TABLE messages ADD COLUMN has_file boolean NOT NULL DEFAULT false;
