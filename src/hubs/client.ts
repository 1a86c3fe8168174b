import type { Bindings } from "../env";
import type { HubUpdate } from "./protocol";

/** The UserHub of a user: one Durable Object per user id. */
export const hubFor = (env: Pick<Bindings, "USER_HUB">, userId: string) => env.USER_HUB.get(env.USER_HUB.idFromName(userId));

/**
 * Who may see `userIds` online changed (a privacy setting, a contact or a block between them):
 * each of their hubs tells the rooms where that user has sockets to reload the rules, at once.
 */
export async function presenceRulesChanged(env: Pick<Bindings, "USER_HUB">, userIds: string[]): Promise<void> {
  await Promise.all(userIds.map((userId) => hubFor(env, userId).refreshPresence(userId, userIds)));
}

/** Hubs told at once when one change concerns many users (a chat's members). */
const PUBLISH_CONCURRENCY = 32;

/**
 * Tell users' devices about a change (their hubs log it with an updateSeq and send it to every
 * realtime socket). Best effort: a hub that cannot be reached is logged and skipped, since what it
 * would say can always be read again (the chat list, the read position).
 */
export async function publishToHubs(env: Pick<Bindings, "USER_HUB">, userIds: readonly string[], update: HubUpdate): Promise<void> {
  for (let i = 0; i < userIds.length; i += PUBLISH_CONCURRENCY) {
    const batch = userIds.slice(i, i + PUBLISH_CONCURRENCY);
    const results = await Promise.allSettled(batch.map((userId) => hubFor(env, userId).publish(update)));
    for (const [j, r] of results.entries()) {
      if (r.status === "rejected") {
        console.error(
          JSON.stringify({ level: "error", msg: "hub publish failed", userId: batch[j], update: update.type, error: String(r.reason) }),
        );
      }
    }
  }
}
