-- An attachment may name the chat it was uploaded for: that chat's room is told of it, so sending it there checks it without D1.
ALTER TABLE `media` ADD `chat_id` text;