import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { users } from "./users";

/**
 * Bot accounts (`users.kind = 'bot'`): who owns each and its one live token. The token is
 * `<bot user id>:<43 base64url characters>` (32 random bytes), shown once; only its SHA-256 is kept.
 * `token_id` names the token (a bot's requests run as session `bot:<token_id>`), so replacing the
 * token ends exactly the old one's sockets. `owner_id` is null for bots the app's backend made.
 */
export const bots = sqliteTable(
  "bots",
  {
    userId: text("user_id")
      .primaryKey()
      .references(() => users.id, { onDelete: "cascade" }),
    ownerId: text("owner_id").references(() => users.id, { onDelete: "cascade" }),
    tokenId: text("token_id").notNull(),
    tokenHash: text("token_hash").notNull(),
    tokenCreatedAt: integer("token_created_at").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  // An owner's bots, oldest first (list, count against the limit, erasure with the owner).
  (t) => [index("bots_owner_idx").on(t.ownerId, t.createdAt)],
);
export type BotRow = typeof bots.$inferSelect;
