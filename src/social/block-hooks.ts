import type { Database } from "../db/client";
import type { Bindings } from "../env";

/** Reacts, in a module above `social`, to `a` blocking or unblocking `b` (either direction). */
export type BlockChangeHook = (env: Bindings, db: Database, a: string, b: string) => Promise<void>;

const hooks = new Set<BlockChangeHook>();

/**
 * Register a reaction to blocks and unblocks. Modules above `social` (chats today: a direct
 * chat stops taking posts while either side blocks the other) register theirs where the app is
 * assembled (src/app/wiring.ts), so `social` never imports them. Hooks must be idempotent.
 */
export function onBlockChange(hook: BlockChangeHook): void {
  hooks.add(hook);
}

/** Runs after a block or unblock between `a` and `b` was stored; hooks run in registration order. */
export async function blockChanged(env: Bindings, db: Database, a: string, b: string): Promise<void> {
  for (const hook of hooks) await hook(env, db, a, b);
}
