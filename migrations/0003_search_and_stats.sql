-- Custom migration (drizzle-kit generate --custom): people search, exact stat counters and the
-- append-only admin audit log. Raw SQL on purpose: drizzle's TS schema cannot describe FTS5
-- virtual tables or triggers, so none of this appears in src/db/schema.

-- People search: an FTS5 index over the public, searchable profile fields of ACTIVE accounts.
-- External content: the index stores only tokens; its content is the view users_searchable (active
-- accounts only), so 'rebuild' and 'integrity-check' agree with what the triggers keep indexed.
-- Deleted, suspended and banned accounts leave the index; the search query filters on status too.
-- remove_diacritics 2 folds "José" and "jose" together; prefix='2 3' keeps short prefix queries
-- ("al*", "ali*") cheap. Repair (e.g. after restoring a dump): INSERT INTO users_fts(users_fts) VALUES ('rebuild').
CREATE VIEW `users_searchable` AS
	SELECT rowid AS user_rowid, username, display_name, bio FROM users WHERE status = 'active';
--> statement-breakpoint
CREATE VIRTUAL TABLE `users_fts` USING fts5(
	username, display_name, bio,
	content='users_searchable', content_rowid='user_rowid',
	tokenize='unicode61 remove_diacritics 2',
	prefix='2 3'
);
--> statement-breakpoint
CREATE TRIGGER `users_fts_ai` AFTER INSERT ON `users` WHEN new.status = 'active' BEGIN
	INSERT INTO users_fts(rowid, username, display_name, bio) VALUES (new.rowid, new.username, new.display_name, new.bio);
END;
--> statement-breakpoint
-- One trigger, delete then insert: SQLite runs several triggers of one event newest first, so a
-- split pair would insert before deleting and corrupt the index. Only the indexed columns and
-- status matter: presence updates (last_seen_at) never touch the index. An external-content
-- delete must repeat the values that were indexed: the old row's.
CREATE TRIGGER `users_fts_au` AFTER UPDATE OF username, display_name, bio, status ON `users`
	WHEN old.status = 'active' OR new.status = 'active' BEGIN
	INSERT INTO users_fts(users_fts, rowid, username, display_name, bio)
		SELECT 'delete', old.rowid, old.username, old.display_name, old.bio WHERE old.status = 'active';
	INSERT INTO users_fts(rowid, username, display_name, bio)
		SELECT new.rowid, new.username, new.display_name, new.bio WHERE new.status = 'active';
END;
--> statement-breakpoint
CREATE TRIGGER `users_fts_ad` AFTER DELETE ON `users` WHEN old.status = 'active' BEGIN
	INSERT INTO users_fts(users_fts, rowid, username, display_name, bio) VALUES ('delete', old.rowid, old.username, old.display_name, old.bio);
END;
--> statement-breakpoint
-- Backfill from the view: every active account.
INSERT INTO users_fts(users_fts) VALUES ('rebuild');
--> statement-breakpoint

-- Exact totals for GET /admin/stats, so it never counts whole tables.
--   users        accounts not deleted (active, suspended, banned): maintained by the triggers below
--   reports_open reports with status 'open': maintained by the triggers below
--   chats, messages, stories: seeded at 0; maintained by those features when they land
--     (UPDATE stat_counters SET value = value + 1 WHERE key = 'chats', in the same batch as the write).
INSERT INTO stat_counters(key, value) VALUES
	('users', (SELECT count(*) FROM users WHERE status != 'deleted')),
	('reports_open', (SELECT count(*) FROM reports WHERE status = 'open')),
	('chats', 0),
	('messages', 0),
	('stories', 0)
	ON CONFLICT(key) DO UPDATE SET value = excluded.value;
--> statement-breakpoint
CREATE TRIGGER `stat_users_ai` AFTER INSERT ON `users` WHEN new.status != 'deleted' BEGIN
	UPDATE stat_counters SET value = value + 1 WHERE key = 'users';
END;
--> statement-breakpoint
CREATE TRIGGER `stat_users_deleted` AFTER UPDATE OF status ON `users` WHEN old.status != 'deleted' AND new.status = 'deleted' BEGIN
	UPDATE stat_counters SET value = value - 1 WHERE key = 'users';
END;
--> statement-breakpoint
CREATE TRIGGER `stat_users_undeleted` AFTER UPDATE OF status ON `users` WHEN old.status = 'deleted' AND new.status != 'deleted' BEGIN
	UPDATE stat_counters SET value = value + 1 WHERE key = 'users';
END;
--> statement-breakpoint
CREATE TRIGGER `stat_users_ad` AFTER DELETE ON `users` WHEN old.status != 'deleted' BEGIN
	UPDATE stat_counters SET value = value - 1 WHERE key = 'users';
END;
--> statement-breakpoint
CREATE TRIGGER `stat_reports_ai` AFTER INSERT ON `reports` WHEN new.status = 'open' BEGIN
	UPDATE stat_counters SET value = value + 1 WHERE key = 'reports_open';
END;
--> statement-breakpoint
CREATE TRIGGER `stat_reports_closed` AFTER UPDATE OF status ON `reports` WHEN old.status = 'open' AND new.status != 'open' BEGIN
	UPDATE stat_counters SET value = value - 1 WHERE key = 'reports_open';
END;
--> statement-breakpoint
CREATE TRIGGER `stat_reports_reopened` AFTER UPDATE OF status ON `reports` WHEN old.status != 'open' AND new.status = 'open' BEGIN
	UPDATE stat_counters SET value = value + 1 WHERE key = 'reports_open';
END;
--> statement-breakpoint
CREATE TRIGGER `stat_reports_ad` AFTER DELETE ON `reports` WHEN old.status = 'open' BEGIN
	UPDATE stat_counters SET value = value - 1 WHERE key = 'reports_open';
END;
--> statement-breakpoint

-- The audit log is append-only: rows can be inserted, never changed or removed.
CREATE TRIGGER `admin_audit_no_update` BEFORE UPDATE ON `admin_audit` BEGIN
	SELECT RAISE(ABORT, 'admin_audit is append-only');
END;
--> statement-breakpoint
CREATE TRIGGER `admin_audit_no_delete` BEFORE DELETE ON `admin_audit` BEGIN
	SELECT RAISE(ABORT, 'admin_audit is append-only');
END;
