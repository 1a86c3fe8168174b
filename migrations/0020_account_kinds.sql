ALTER TABLE `users` ADD `kind` text DEFAULT 'regular' NOT NULL;--> statement-breakpoint
CREATE INDEX `users_kind_last_seen_idx` ON `users` (`kind`,`last_seen_at`);