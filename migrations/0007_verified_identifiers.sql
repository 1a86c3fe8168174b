DROP INDEX `users_email_uq`;--> statement-breakpoint
DROP INDEX `users_phone_uq`;--> statement-breakpoint
CREATE INDEX `users_email_idx` ON `users` (`email`) WHERE "users"."email" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `users_phone_idx` ON `users` (`phone`) WHERE "users"."phone" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `users_verified_email_uq` ON `users` (`email`) WHERE "users"."email_verified_at" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `users_verified_phone_uq` ON `users` (`phone`) WHERE "users"."phone_verified_at" IS NOT NULL;