import { and, eq, gt, inArray, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { stories, storyViews } from "../db/schema";
import type { Bindings } from "../env";
import { now } from "../lib/time";

/**
 * The account-deletion hook of stories (registered in src/app/wiring.ts). Accounts are erased in place
 * (the users row stays, so foreign keys do not cascade): the author's live stories expire now,
 * so they vanish at once and the next sweep removes them with their media; the account's views
 * of other people's stories are deleted and those stories' view counts lowered to match.
 * Idempotent: a second run finds nothing live and no views.
 */
export async function removeAccountStories(_env: Bindings, db: Database, userId: string): Promise<void> {
  const at = now();
  const viewed = db.select({ id: storyViews.storyId }).from(storyViews).where(eq(storyViews.viewerId, userId));
  await db.batch([
    db
      .update(stories)
      .set({ expiresAt: at })
      .where(and(eq(stories.authorId, userId), gt(stories.expiresAt, at))),
    db
      .update(stories)
      .set({ viewCount: sql`max(0, ${stories.viewCount} - 1)` })
      .where(inArray(stories.id, viewed)),
    db.delete(storyViews).where(eq(storyViews.viewerId, userId)),
  ]);
}
