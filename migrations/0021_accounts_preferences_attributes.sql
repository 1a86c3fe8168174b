CREATE TABLE `user_preferences` (
	`user_id` text PRIMARY KEY NOT NULL,
	`doc` text NOT NULL,
	`version` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `mfa_challenges` ADD `reactivate` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `metadata` text;--> statement-breakpoint
ALTER TABLE `users` ADD `verified` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `creator` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `kyc_status` text DEFAULT 'not_started' NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `tier` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `lifecycle` text DEFAULT 'active' NOT NULL;--> statement-breakpoint
CREATE INDEX `users_verified_idx` ON `users` (`verified`);--> statement-breakpoint
CREATE INDEX `users_creator_idx` ON `users` (`creator`);--> statement-breakpoint
CREATE INDEX `users_kyc_status_idx` ON `users` (`kyc_status`);--> statement-breakpoint
CREATE INDEX `users_tier_idx` ON `users` (`tier`);--> statement-breakpoint
CREATE INDEX `users_lifecycle_idx` ON `users` (`lifecycle`);