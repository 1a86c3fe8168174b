CREATE TABLE `stories` (
	`id` text PRIMARY KEY NOT NULL,
	`author_id` text NOT NULL,
	`type` text NOT NULL,
	`text` text,
	`background` text,
	`font` text,
	`media_id` text,
	`caption` text,
	`audience` text NOT NULL,
	`view_count` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`author_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`media_id`) REFERENCES `media`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `stories_author_idx` ON `stories` (`author_id`,`expires_at`);--> statement-breakpoint
CREATE INDEX `stories_expires_idx` ON `stories` (`expires_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `stories_media_uq` ON `stories` (`media_id`) WHERE "stories"."media_id" IS NOT NULL;--> statement-breakpoint
CREATE TABLE `story_audience` (
	`story_id` text NOT NULL,
	`user_id` text NOT NULL,
	`kind` text NOT NULL,
	PRIMARY KEY(`story_id`, `user_id`),
	FOREIGN KEY (`story_id`) REFERENCES `stories`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `story_views` (
	`story_id` text NOT NULL,
	`viewer_id` text NOT NULL,
	`viewed_at` integer NOT NULL,
	PRIMARY KEY(`story_id`, `viewer_id`),
	FOREIGN KEY (`story_id`) REFERENCES `stories`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`viewer_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `story_views_recent_idx` ON `story_views` (`story_id`,`viewed_at`,`viewer_id`);--> statement-breakpoint
-- Admin stats: stat_counters['stories'] is the number of rows in `stories` (live, or expired or
-- deleted but not yet swept), kept exact by these triggers whatever removes a row (the sweep, a
-- cascade). GET /admin/stats subtracts the rows with expires_at <= now, so it answers exactly the
-- live stories at that moment (src/admin/service.ts).
CREATE TRIGGER `stories_count_insert` AFTER INSERT ON `stories` BEGIN
  UPDATE `stat_counters` SET `value` = `value` + 1 WHERE `key` = 'stories';
END;--> statement-breakpoint
CREATE TRIGGER `stories_count_delete` AFTER DELETE ON `stories` BEGIN
  UPDATE `stat_counters` SET `value` = `value` - 1 WHERE `key` = 'stories';
END;--> statement-breakpoint
-- A story's distinct viewers: a repeated view is an ignored insert and fires nothing.
CREATE TRIGGER `story_views_count_insert` AFTER INSERT ON `story_views` BEGIN
  UPDATE `stories` SET `view_count` = `view_count` + 1 WHERE `id` = new.`story_id`;
END;
