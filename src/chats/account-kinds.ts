import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { AppError } from "../lib/errors";
import { findUser } from "../social/people";

/**
 * What an account's kind keeps it from doing with chats. Guests (users.kind) use chats like anyone
 * but cannot put up anything public: no channels, no public groups, at creation or later.
 */

const guestRefused = (what: string) =>
  new AppError(403, "guest_not_allowed", `Guests cannot ${what}; set a password or verify an email or phone first`);

/** `403 guest_not_allowed` when a guest creates a channel or a public group. */
export function assertKindMayCreate(actor: Pick<UserRow, "kind">, input: { type: string; isPublic?: boolean }): void {
  if (actor.kind !== "guest") return;
  if (input.type === "channel") throw guestRefused("create channels");
  if (input.isPublic) throw guestRefused("create public groups");
}

/** `403 guest_not_allowed` when a guest (an admin of the group) makes a group public. Reads the actor only then. */
export async function assertKindMayPublish(db: Database, actorId: string, isPublic: boolean | undefined): Promise<void> {
  if (isPublic !== true) return;
  const actor = await findUser(db, actorId);
  if (actor?.kind === "guest") throw guestRefused("make a group public");
}
