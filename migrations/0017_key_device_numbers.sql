ALTER TABLE `identity_keys` ADD `last_device_id` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Accounts that already have devices: numbers continue after the highest one in use.
UPDATE `identity_keys` SET `last_device_id` = (SELECT coalesce(max(`device_id`), 0) FROM `key_devices` WHERE `key_devices`.`user_id` = `identity_keys`.`user_id`);
