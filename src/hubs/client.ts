import type { Bindings } from "../env";

/** The UserHub of a user: one Durable Object per user id. */
export const hubFor = (env: Pick<Bindings, "USER_HUB">, userId: string) => env.USER_HUB.get(env.USER_HUB.idFromName(userId));

/**
 * Who may see `userIds` online changed (a privacy setting, a contact or a block between them):
 * each of their hubs tells the rooms where that user has sockets to reload the rules, at once.
 */
export async function presenceRulesChanged(env: Pick<Bindings, "USER_HUB">, userIds: string[]): Promise<void> {
  await Promise.all(userIds.map((userId) => hubFor(env, userId).refreshPresence(userId, userIds)));
}
