CREATE TABLE `chat_bans` (
	`chat_id` text NOT NULL,
	`user_id` text NOT NULL,
	`banned_by` text NOT NULL,
	`until` integer,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`chat_id`, `user_id`),
	FOREIGN KEY (`chat_id`) REFERENCES `chats`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `chat_members` (
	`chat_id` text NOT NULL,
	`user_id` text NOT NULL,
	`role` text NOT NULL,
	`permissions` text,
	`joined_at` integer NOT NULL,
	`read_seq` integer DEFAULT 0 NOT NULL,
	`muted_until` integer,
	`pinned_at` integer,
	`archived` integer DEFAULT false NOT NULL,
	`hidden` integer DEFAULT false NOT NULL,
	PRIMARY KEY(`chat_id`, `user_id`),
	FOREIGN KEY (`chat_id`) REFERENCES `chats`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `chat_members_user_idx` ON `chat_members` (`user_id`,`chat_id`);--> statement-breakpoint
CREATE TABLE `chats` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`name` text,
	`description` text,
	`avatar_media_id` text,
	`is_public` integer DEFAULT false NOT NULL,
	`encrypted` integer DEFAULT false NOT NULL,
	`direct_key` text,
	`permissions` text NOT NULL,
	`slow_mode_seconds` integer DEFAULT 0 NOT NULL,
	`member_count` integer DEFAULT 0 NOT NULL,
	`frozen_at` integer,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`last_seq` integer DEFAULT 0 NOT NULL,
	`last_activity_at` integer NOT NULL,
	`last_message` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `chats_direct_key_uq` ON `chats` (`direct_key`) WHERE "chats"."direct_key" IS NOT NULL;--> statement-breakpoint
-- Admin stats: chats counted exactly by triggers; messages are added by each room's summary flush.
CREATE TRIGGER `chats_count_insert` AFTER INSERT ON `chats` BEGIN
  UPDATE `stat_counters` SET `value` = `value` + 1 WHERE `key` = 'chats';
END;--> statement-breakpoint
CREATE TRIGGER `chats_count_delete` AFTER DELETE ON `chats` BEGIN
  UPDATE `stat_counters` SET `value` = `value` - 1 WHERE `key` = 'chats';
END;
