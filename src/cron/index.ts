import { lt } from "drizzle-orm";
import { pruneApiKeyUses } from "../admin/api-keys";
import { purgeExpired } from "../auth/sessions";
import { createDb } from "../db/client";
import { devOutbox, mfaChallenges, otpCodes } from "../db/schema";
import type { Bindings } from "../env";
import { purgeEndedCounters } from "../lib/counters";
import { DAY } from "../lib/time";
import { sweepUnattachedMedia } from "../media/sweep";
import { sweepExpiredUploads } from "../media/tus/service";
import { sweepExpiredStories } from "../stories/sweep";
import { expireGuests } from "../users/guests";
import { pruneDeliveries } from "../webhooks/endpoints";

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

interface Job {
  name: string;
  run: (env: Bindings, at: number) => Promise<object>;
}

/** Which jobs each cron expression of wrangler.toml runs, in order. */
const JOBS: Record<string, Job[]> = {
  "*/5 * * * *": [
    { name: "housekeeping", run: housekeeping },
    // Expired and deleted stories, 200 a run (src/stories/sweep.ts).
    { name: "stories", run: (env, at) => sweepExpiredStories(env, at) },
    // Guests unseen for 30 days, erased like deleted accounts, 25 a run (src/users/guests.ts).
    { name: "guests", run: (env, at) => expireGuests(env, at) },
  ],
  "0 * * * *": [
    // Attachments never sent within 24 hours, 500 a run (src/media/sweep.ts).
    { name: "unattachedMedia", run: (env, at) => sweepUnattachedMedia(env, at) },
    // Resumable uploads past their expiry, 200 a run (src/media/tus/service.ts).
    { name: "expiredUploads", run: (env, at) => sweepExpiredUploads(env, createDb(env.DB), at) },
    // Webhook delivery attempts older than 7 days (src/webhooks/endpoints.ts).
    { name: "webhookDeliveries", run: (env, at) => pruneDeliveries(createDb(env.DB), at) },
    // Records of API key uses older than 90 days, in batches of 5,000 for up to 20 s (src/admin/api-keys.ts).
    { name: "apiKeyUses", run: (env, at) => pruneApiKeyUses(createDb(env.DB), at) },
  ],
};

/**
 * The cron entry point: dispatch on `controller.cron` and run its jobs one after another, each
 * logged as one JSON line. A failing job is logged and does not stop the next one; the run then
 * fails with the first error, so the platform records it.
 */
export async function runScheduled(controller: ScheduledController, env: Bindings): Promise<void> {
  const jobs = JOBS[controller.cron];
  if (!jobs) {
    console.warn(JSON.stringify({ level: "warn", msg: "no jobs for this cron", cron: controller.cron }));
    return;
  }
  const failures: unknown[] = [];
  for (const job of jobs) {
    const started = Date.now();
    try {
      const result = await job.run(env, controller.scheduledTime);
      console.log(JSON.stringify({ level: "info", job: job.name, cron: controller.cron, ms: Date.now() - started, ...result }));
    } catch (err) {
      failures.push(err);
      const error = err instanceof Error ? { name: err.name, message: err.message } : String(err);
      console.error(JSON.stringify({ level: "error", job: job.name, cron: controller.cron, ms: Date.now() - started, error }));
    }
  }
  if (failures.length > 0) throw failures[0];
}
