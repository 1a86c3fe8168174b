CREATE TABLE `api_key_uses` (
	`id` text PRIMARY KEY NOT NULL,
	`key_id` text NOT NULL,
	`acting_user_id` text,
	`method` text NOT NULL,
	`path` text NOT NULL,
	`status` integer NOT NULL,
	`ip` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`key_id`) REFERENCES `api_keys`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `api_key_uses_key_idx` ON `api_key_uses` (`key_id`,`id`);--> statement-breakpoint
CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`prefix` text NOT NULL,
	`key_hash` text NOT NULL,
	`scopes` text NOT NULL,
	`created_by` text,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	`last_used_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash_uq` ON `api_keys` (`key_hash`);--> statement-breakpoint
ALTER TABLE `users` ADD `external_id` text;--> statement-breakpoint
CREATE UNIQUE INDEX `users_external_id_uq` ON `users` (`external_id`) WHERE "users"."external_id" IS NOT NULL;--> statement-breakpoint
-- API key uses are an audit trail: append-only, like admin_audit.
CREATE TRIGGER `api_key_uses_no_update` BEFORE UPDATE ON `api_key_uses` BEGIN
	SELECT RAISE(ABORT, 'api_key_uses is append-only');
END;
--> statement-breakpoint
CREATE TRIGGER `api_key_uses_no_delete` BEFORE DELETE ON `api_key_uses` BEGIN
	SELECT RAISE(ABORT, 'api_key_uses is append-only');
END;
