-- Chat settings: forwarding out of the chat can be turned off; custom JSON metadata (≤ 4 KiB, never interpreted).
ALTER TABLE `chats` ADD `no_forwards` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `chats` ADD `metadata` text;