import { lt } from "drizzle-orm";
import { purgeExpired } from "../auth/sessions";
import { createDb } from "../db/client";
import { devOutbox, mfaChallenges, otpCodes } from "../db/schema";
import type { Bindings } from "../env";
import { purgeEndedCounters } from "../lib/counters";
import { DAY } from "../lib/time";
import { sweepExpiredUploads } from "../media/tus/service";

/**
 * Delete what can never be used again: expired refresh tokens, long-dead sessions, window
 * counters whose own window has ended (a lockout after 15 minutes, a contact-sync limit after its
 * hour), expired one-time codes and MFA challenges, and dev-outbox messages older than a day.
 */
export async function housekeeping(env: Bindings, at: number): Promise<Record<string, number>> {
  const db = createDb(env.DB);
  const purged = await purgeExpired(db, at);
  const [counters, codes, challenges, outbox] = await Promise.all([
    purgeEndedCounters(db, at),
    db.delete(otpCodes).where(lt(otpCodes.expiresAt, at)).returning({ id: otpCodes.id }),
    db.delete(mfaChallenges).where(lt(mfaChallenges.expiresAt, at)).returning({ h: mfaChallenges.tokenHash }),
    db
      .delete(devOutbox)
      .where(lt(devOutbox.createdAt, at - DAY))
      .returning({ id: devOutbox.id }),
  ]);
  return { ...purged, counters, otpCodes: codes.length, mfaChallenges: challenges.length, outbox: outbox.length };
}

/** Hourly: end resumable uploads past their expiry (aborting unfinished ones and freeing their bytes). */
async function hourly(env: Bindings, at: number): Promise<Record<string, number>> {
  return sweepExpiredUploads(env, createDb(env.DB), at);
}

/** Which jobs each cron expression of wrangler.toml runs. */
const JOBS: Record<string, (env: Bindings, at: number) => Promise<Record<string, number>>> = {
  "*/5 * * * *": housekeeping,
  "0 * * * *": hourly,
};

/** The cron entry point: the jobs of the expression that fired, each logged as one JSON line. */
export async function runScheduled(controller: ScheduledController, env: Bindings): Promise<void> {
  const job = JOBS[controller.cron];
  if (!job) {
    console.warn(JSON.stringify({ level: "warn", msg: "no job for this cron", cron: controller.cron }));
    return;
  }
  const started = Date.now();
  const result = await job(env, controller.scheduledTime);
  console.log(JSON.stringify({ level: "info", job: job.name, cron: controller.cron, ms: Date.now() - started, ...result }));
}
