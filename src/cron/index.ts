import { purgeExpired } from "../auth/sessions";
import { createDb } from "../db/client";
import { authFailures } from "../db/schema";
import type { Bindings } from "../env";
import { lt } from "drizzle-orm";
import { LOCKOUT_WINDOW_MS } from "../auth/lockout";

/** Delete expired refresh tokens, long-dead sessions and stale failed-login counters. */
export async function housekeeping(env: Bindings, at: number): Promise<Record<string, number>> {
  const db = createDb(env.DB);
  const purged = await purgeExpired(db, at);
  const counters = await db
    .delete(authFailures)
    .where(lt(authFailures.windowStart, at - LOCKOUT_WINDOW_MS))
    .returning({ key: authFailures.key });
  return { ...purged, counters: counters.length };
}

/** The cron entry point: one function per job, each logged as one JSON line. */
export async function runScheduled(controller: ScheduledController, env: Bindings): Promise<void> {
  const started = Date.now();
  const result = await housekeeping(env, controller.scheduledTime);
  console.log(JSON.stringify({ level: "info", job: "housekeeping", cron: controller.cron, ms: Date.now() - started, ...result }));
}
