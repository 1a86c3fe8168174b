import type { Database } from "../db/client";
import type { Bindings } from "../env";

/**
 * Runs once an account was erased (see deleteAccount in deletion.ts): the place where modules
 * that own data outside the users directory clean up after a deleted account.
 *
 * What it does today: nothing beyond one structured log line, because no such data exists yet.
 * Everything the account owns in D1 today (profile, contacts, follows, blocks, close friends,
 * devices, sessions, codes, security events) is already erased by deleteAccount itself, and the
 * account row keeps its id with the display name "Deleted account", which is how a deleted author
 * shows up anywhere that looks the id up.
 *
 * What belongs here as the modules arrive:
 * - messaging: anonymize authorship and delete the account's message content in each ChatRoom it
 *   was a member of (by RPC to the rooms), and remove its memberships;
 * - keys: delete the account's identity key, signed and one-time prekeys;
 * - media: delete the avatar and other uploads from R2 and the media index;
 * - stories: delete its stories and views;
 * - realtime: close its live sockets (UserHub).
 * Each step must be idempotent: a retried deletion may run it twice.
 */
export async function onAccountDeleted(_env: Bindings, _db: Database, userId: string): Promise<void> {
  // Ids only: never a name, email or phone of the erased account in logs.
  console.log(JSON.stringify({ level: "info", msg: "account deleted", userId }));
}
