import { z } from "@hono/zod-openapi";
import { PageQuery } from "../lib/pagination";
import { PublicProfile } from "../users/schemas";

/** Most phones plus emails one contact sync may carry; more answers `413 too_many_entries`. */
export const SYNC_MAX_ENTRIES = 1000;
/** Most people on one close-friends list. */
export const CLOSE_FRIENDS_MAX = 500;

const UserId = z.uuid().openapi({ example: "01930f3e-8d4a-7c1e-9d2b-5a7f3c2e1b0a" });

export const UserIdParam = z.object({ userId: UserId.openapi({ param: { name: "userId", in: "path" } }) });
export const IdParam = z.object({ id: UserId.openapi({ param: { name: "id", in: "path" } }) });
/** A user id, or `me` for the caller (follow lists only). */
export const IdOrMeParam = z.object({
  id: z.union([z.uuid(), z.literal("me")]).openapi({ param: { name: "id", in: "path" }, description: "A user id or `me`" }),
});
export { PageQuery };

export const Nickname = z.string().trim().min(1).max(64).openapi({ example: "Mom", description: "1–64 characters, seen only by you" });

export const AddContactBody = z
  .strictObject({
    userId: UserId,
    nickname: Nickname.nullable().optional().openapi({ description: "Omit to keep the current nickname, null to clear it" }),
  })
  .openapi("AddContactRequest");

export const BlockBody = z.strictObject({ userId: UserId }).openapi("BlockRequest");

export const CloseFriendsBody = z
  .strictObject({
    userIds: z
      .array(UserId)
      .max(CLOSE_FRIENDS_MAX)
      .openapi({ description: `The whole list (≤ ${CLOSE_FRIENDS_MAX}); duplicates are ignored` }),
  })
  .openapi("CloseFriendsRequest");

/**
 * Entries are plain strings: one that cannot be normalized is reported in `invalid`, not fatal.
 * The count (≤ 1,000 in total) is checked by the handler so that too many answers 413, not 400.
 */
export const SyncBody = z
  .strictObject({
    phones: z
      .array(z.string())
      .optional()
      .openapi({ example: ["+1 (415) 555-0100"] }),
    emails: z
      .array(z.string())
      .optional()
      .openapi({ example: ["alice@example.com"] }),
  })
  .openapi("ContactSyncRequest");

/** A profile as the caller may see it: one schema for every route that shows people (users/schemas.ts). */
export { PublicProfile };

export const Contact = PublicProfile.extend({
  nickname: z.string().nullable(),
  addedAt: z.string(),
}).openapi("Contact");

export const FollowEntry = PublicProfile.extend({ followedAt: z.string() }).openapi("FollowEntry");

export const BlockedUser = z
  .object({ id: z.string(), username: z.string(), displayName: z.string(), blockedAt: z.string() })
  .openapi("BlockedUser");

export const SyncMatch = z
  .object({
    userId: z.string(),
    matched: z.enum(["phone", "email"]),
    value: z.string().openapi({ description: "The normalized phone (E.164) or email that matched" }),
    input: z.string().openapi({ description: "The entry as you sent it (the first one, when several normalize alike)" }),
    profile: PublicProfile,
  })
  .openapi("ContactSyncMatch");

export const SyncInvalid = z
  .object({
    field: z.enum(["phones", "emails"]),
    index: z.number().int(),
    value: z.string().openapi({ description: "The entry as sent (cut to 320 characters)" }),
  })
  .openapi("ContactSyncInvalid");

export const SyncResult = z.object({ items: z.array(SyncMatch), invalid: z.array(SyncInvalid) }).openapi("ContactSyncResult");

const pageOf = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() }).openapi(name);

export const ContactPage = pageOf(Contact, "ContactPage");
export const FollowPage = pageOf(FollowEntry, "FollowPage");
export const BlockedPage = pageOf(BlockedUser, "BlockedPage");
export const ProfilePage = pageOf(PublicProfile, "ProfilePage");
