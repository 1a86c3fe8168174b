import type { Database } from "../db/client";
import type { Bindings } from "../env";

/** Cleans up data a module owns outside the users directory after an account was erased. */
export type AccountDeletionHook = (env: Bindings, db: Database, userId: string) => Promise<void>;

const hooks = new Set<AccountDeletionHook>();

/**
 * Register a cleanup for deleted accounts. Modules above `users` (chats today; keys, media and
 * stories as they land) register theirs where the app is assembled (src/app/wiring.ts), so `users`
 * never imports them. Each hook must be idempotent: a retried deletion runs it again.
 */
export function onAccountDeletion(hook: AccountDeletionHook): void {
  hooks.add(hook);
}

/**
 * Runs once an account was erased (see deleteAccount in deletion.ts); by then its sessions have
 * ended and its sockets are closed. Hooks run in registration order.
 */
export async function onAccountDeleted(env: Bindings, db: Database, userId: string): Promise<void> {
  for (const hook of hooks) await hook(env, db, userId);
  // Ids only: never a name, email or phone of the erased account in logs.
  console.log(JSON.stringify({ level: "info", msg: "account deleted", userId }));
}
