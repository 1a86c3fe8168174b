import { lt } from "drizzle-orm";
import { purgeExpired } from "../auth/sessions";
import { createDb } from "../db/client";
import { devOutbox, mfaChallenges, otpCodes } from "../db/schema";
import type { Bindings } from "../env";
import { purgeEndedCounters } from "../lib/counters";
import { DAY } from "../lib/time";
import { sweepUnattachedMedia } from "../media/sweep";
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

/** wrangler.toml `[triggers] crons`: what each schedule runs. */
export const EVERY_FIVE_MINUTES = "*/5 * * * *";
export const HOURLY = "0 * * * *";

type Job = (env: Bindings, at: number) => Promise<object>;

/** The jobs of each cron schedule, run in order. A new job is one line here. */
const JOBS: Record<string, Record<string, Job>> = {
  [EVERY_FIVE_MINUTES]: { housekeeping },
  [HOURLY]: {
    expiredUploads: (env, at) => sweepExpiredUploads(env, createDb(env.DB), at),
    unattachedMedia: (env, at) => sweepUnattachedMedia(env, at),
  },
};

/** The cron entry point: dispatch on `controller.cron`; each job logged as one JSON line. */
export async function runScheduled(controller: ScheduledController, env: Bindings): Promise<void> {
  const jobs = JOBS[controller.cron];
  if (!jobs) {
    console.warn(JSON.stringify({ level: "warn", msg: "no jobs for cron", cron: controller.cron }));
    return;
  }
  for (const [job, run] of Object.entries(jobs)) {
    const started = Date.now();
    const result = await run(env, controller.scheduledTime);
    console.log(JSON.stringify({ level: "info", job, cron: controller.cron, ms: Date.now() - started, ...result }));
  }
}
