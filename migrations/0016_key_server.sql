-- The Signal-compatible key server: identity keys, the devices that uploaded keys (signed and last-resort prekeys), one-time prekeys.
CREATE TABLE `identity_keys` (
	`user_id` text PRIMARY KEY NOT NULL,
	`identity_key` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `key_devices` (
	`user_id` text NOT NULL,
	`device_id` integer NOT NULL,
	`client_device_id` text NOT NULL,
	`registration_id` integer NOT NULL,
	`signed_key_id` integer NOT NULL,
	`signed_public_key` text NOT NULL,
	`signed_signature` text NOT NULL,
	`last_resort_key_id` integer NOT NULL,
	`last_resort_public_key` text NOT NULL,
	`last_resort_signature` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `device_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `key_devices_client_uq` ON `key_devices` (`user_id`,`client_device_id`);--> statement-breakpoint
CREATE TABLE `one_time_prekeys` (
	`user_id` text NOT NULL,
	`device_id` integer NOT NULL,
	`kind` text NOT NULL,
	`key_id` integer NOT NULL,
	`public_key` text NOT NULL,
	`signature` text,
	PRIMARY KEY(`user_id`, `device_id`, `kind`, `key_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
