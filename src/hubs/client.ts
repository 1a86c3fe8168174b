import type { Bindings } from "../env";
import type { PresenceChange, Watcher } from "./presence";
import type { HubUpdate, PushHint } from "./protocol";

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
 * realtime socket; with `push`, each hub may notify its user's offline devices). Best effort: a hub that cannot be reached is logged and skipped, since what it
 * would say can always be read again (the chat list, the read position).
 */
export function publishToHubs(
  env: Pick<Bindings, "USER_HUB">,
  userIds: readonly string[],
  update: HubUpdate,
  push?: PushHint,
): Promise<void> {
  return eachHub(env, userIds, update.type, (hub, userId) => hub.publish(update, push, userId));
}

/**
 * A user's presence (or who may see it) changed: each watcher's devices get a live `presence`
 * frame (not logged); a watcher who may not see it is told `online: false` with no time.
 */
export function announcePresence(env: Pick<Bindings, "USER_HUB">, change: PresenceChange, watchers: readonly Watcher[]): Promise<void> {
  const hidden: PresenceChange = { userId: change.userId, online: false };
  const shown = new Set(watchers.filter((w) => w.visible).map((w) => w.userId));
  return eachHub(
    env,
    watchers.map((w) => w.userId),
    "presence",
    (hub, userId) => hub.tellDevices(shown.has(userId) ? change : hidden),
  );
}

/** Call these users' hubs, a batch at a time; a failed call is logged and skipped. */
async function eachHub(
  env: Pick<Bindings, "USER_HUB">,
  userIds: readonly string[],
  what: string,
  call: (hub: ReturnType<typeof hubFor>, userId: string) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < userIds.length; i += PUBLISH_CONCURRENCY) {
    const batch = userIds.slice(i, i + PUBLISH_CONCURRENCY);
    const results = await Promise.allSettled(batch.map((userId) => call(hubFor(env, userId), userId)));
    for (const [j, r] of results.entries()) {
      if (r.status === "rejected") {
        console.error(JSON.stringify({ level: "error", msg: "hub call failed", userId: batch[j], what, error: String(r.reason) }));
      }
    }
  }
}
