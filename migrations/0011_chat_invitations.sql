CREATE TABLE `chat_invitations` (
	`chat_id` text NOT NULL,
	`user_id` text NOT NULL,
	`invited_by` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`chat_id`, `user_id`),
	FOREIGN KEY (`chat_id`) REFERENCES `chats`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`invited_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `chat_invitations_user_idx` ON `chat_invitations` (`user_id`,`created_at`,`chat_id`);--> statement-breakpoint
CREATE INDEX `chat_invitations_inviter_idx` ON `chat_invitations` (`invited_by`);--> statement-breakpoint
-- An invitation is only ever for someone who is not a member: whatever path makes them one (an
-- add, a join, an approved join request, accepting the invitation), the invitation goes with it.
CREATE TRIGGER `chat_invitations_member_added` AFTER INSERT ON `chat_members` BEGIN
  DELETE FROM `chat_invitations` WHERE `chat_id` = new.`chat_id` AND `user_id` = new.`user_id`;
END;
