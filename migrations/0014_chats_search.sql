-- Custom migration (drizzle-kit generate --custom): chat search for GET /api/v1/search. An FTS5
-- index over the names and descriptions of groups and channels (direct chats have no name: people
-- are found by user search). External content, like users_fts: the index stores only tokens, its
-- content is the view chats_searchable, and triggers keep it in step. Repair:
-- INSERT INTO chats_fts(chats_fts) VALUES ('rebuild').
CREATE VIEW `chats_searchable` AS
	SELECT rowid AS chat_rowid, name, description FROM chats WHERE type != 'direct';
--> statement-breakpoint
CREATE VIRTUAL TABLE `chats_fts` USING fts5(
	name, description,
	content='chats_searchable', content_rowid='chat_rowid',
	tokenize='unicode61 remove_diacritics 2',
	prefix='2 3'
);
--> statement-breakpoint
CREATE TRIGGER `chats_fts_ai` AFTER INSERT ON `chats` WHEN new.type != 'direct' BEGIN
	INSERT INTO chats_fts(rowid, name, description) VALUES (new.rowid, new.name, new.description);
END;
--> statement-breakpoint
-- One trigger, delete then insert (see users_fts_au); summary writes (last_seq, preview) never touch it.
CREATE TRIGGER `chats_fts_au` AFTER UPDATE OF name, description ON `chats` WHEN new.type != 'direct' BEGIN
	INSERT INTO chats_fts(chats_fts, rowid, name, description) VALUES ('delete', old.rowid, old.name, old.description);
	INSERT INTO chats_fts(rowid, name, description) VALUES (new.rowid, new.name, new.description);
END;
--> statement-breakpoint
CREATE TRIGGER `chats_fts_ad` AFTER DELETE ON `chats` WHEN old.type != 'direct' BEGIN
	INSERT INTO chats_fts(chats_fts, rowid, name, description) VALUES ('delete', old.rowid, old.name, old.description);
END;
--> statement-breakpoint
INSERT INTO chats_fts(chats_fts) VALUES ('rebuild');
