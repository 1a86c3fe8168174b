ALTER TABLE `webhook_endpoints` ADD `bot_id` text REFERENCES bots(user_id) ON DELETE cascade;--> statement-breakpoint
CREATE UNIQUE INDEX `webhook_endpoints_bot_uq` ON `webhook_endpoints` (`bot_id`);--> statement-breakpoint
ALTER TABLE `admin_audit` ADD `actor_type` text DEFAULT 'user' NOT NULL;--> statement-breakpoint
CREATE INDEX `api_key_uses_created_idx` ON `api_key_uses` (`created_at`);--> statement-breakpoint
-- API key uses stay append-only, but rows older than 90 days may go (the hourly cron prunes them).
DROP TRIGGER `api_key_uses_no_delete`;--> statement-breakpoint
CREATE TRIGGER `api_key_uses_no_delete` BEFORE DELETE ON `api_key_uses`
WHEN old.`created_at` > (unixepoch('now') - 90 * 86400) * 1000 BEGIN
	SELECT RAISE(ABORT, 'api_key_uses is append-only: rows go only after 90 days');
END;
