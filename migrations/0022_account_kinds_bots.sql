CREATE TABLE `bots` (
	`user_id` text PRIMARY KEY NOT NULL,
	`owner_id` text,
	`token_id` text NOT NULL,
	`token_hash` text NOT NULL,
	`token_created_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `bots_owner_idx` ON `bots` (`owner_id`,`created_at`);--> statement-breakpoint
ALTER TABLE `users` ADD `kind` text DEFAULT 'regular' NOT NULL;--> statement-breakpoint
CREATE INDEX `users_kind_last_seen_idx` ON `users` (`kind`,`last_seen_at`);