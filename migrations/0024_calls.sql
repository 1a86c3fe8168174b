CREATE TABLE `call_participants` (
	`call_id` text NOT NULL,
	`user_id` text NOT NULL,
	`state` text NOT NULL,
	`session_id` text,
	`invited_at` integer NOT NULL,
	`joined_at` integer,
	`left_at` integer,
	PRIMARY KEY(`call_id`, `user_id`),
	FOREIGN KEY (`call_id`) REFERENCES `calls`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `call_participants_user_idx` ON `call_participants` (`user_id`,`call_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `call_participants_line_uq` ON `call_participants` (`user_id`) WHERE "call_participants"."state" IN ('ringing', 'joined');--> statement-breakpoint
CREATE TABLE `calls` (
	`id` text PRIMARY KEY NOT NULL,
	`chat_id` text NOT NULL,
	`caller_id` text NOT NULL,
	`kind` text NOT NULL,
	`media` text NOT NULL,
	`status` text NOT NULL,
	`started_at` integer NOT NULL,
	`answered_at` integer,
	`ended_at` integer,
	`duration_seconds` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`chat_id`) REFERENCES `chats`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `calls_chat_idx` ON `calls` (`chat_id`,`id`);--> statement-breakpoint
ALTER TABLE `users` ADD `privacy_calls` text DEFAULT 'everyone' NOT NULL;