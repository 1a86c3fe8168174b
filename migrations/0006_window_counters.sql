ALTER TABLE `auth_failures` RENAME TO `window_counters`;--> statement-breakpoint
ALTER TABLE `window_counters` ADD `expires_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Counters in flight keep counting: each gets the end of its own window (contact syncs an hour,
-- lockouts and code sends 15 minutes), so no lockout or limit resets with this migration.
UPDATE `window_counters` SET `expires_at` = `window_start` + CASE WHEN `key` LIKE 'contacts-sync:%' THEN 3600000 ELSE 900000 END;--> statement-breakpoint
CREATE INDEX `window_counters_expires_idx` ON `window_counters` (`expires_at`);
