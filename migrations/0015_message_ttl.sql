-- Disappearing messages: a chat-level time to live for messages (seconds; null: off).
ALTER TABLE `chats` ADD `message_ttl_seconds` integer;