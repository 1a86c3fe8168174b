import { createDb } from "../db/client";
import { registerCallPort } from "../hubs/call-port";
import { registerMediaReader } from "../media/access";
import { onReportTarget } from "../reports/target-checks";
import { registerMediaPort } from "../rooms/media-port";
import { onBlockChange } from "../social/block-hooks";
import { onAccountDeletion } from "../users/deletion-hooks";

/**
 * A function of a module imported on its first call: the hooks' modules load in the isolates
 * that run them, like the route groups (route-groups.ts), not in every isolate at startup.
 */
const onDemand =
  <A extends unknown[], R>(load: () => Promise<(...args: A) => Promise<R>>) =>
  async (...args: A): Promise<R> =>
    (await load())(...args);

const media = () => import("../media/attachments");
const signaling = async () => (await import("../calls/signaling")).callSignaling;

let wired = false;

/**
 * Connects modules to the ones above them through the hooks and ports the lower ones offer, so
 * imports run one way (README, Layers). Runs once per isolate (later calls do nothing), before
 * anything is served: the Durable Objects, cron and queues rely on these as much as the routes do.
 */
export function wireFeatures(): void {
  if (wired) return;
  wired = true;
  // Chats cleans up after a deleted account (users/deletion-hooks.ts) and stops or resumes posting
  // in a direct chat when a block between its members changes (social/block-hooks.ts).
  onAccountDeletion(onDemand(async () => (await import("../chats/account-removal")).removeAccountFromChats));
  onAccountDeletion(onDemand(async () => (await import("../media/service")).removeAccountMedia));
  onBlockChange(onDemand(async () => (await import("../chats/direct-blocks")).syncDirectChatBlock));
  // Stories: an erased author's stories expire at once; a story is reported only by someone who can see it.
  onAccountDeletion(onDemand(async () => (await import("../stories/account-removal")).removeAccountStories));
  // Bots: an erased bot's token goes; an erased user's bots are erased too (users/bots.ts).
  onAccountDeletion(onDemand(async () => (await import("../users/bots")).removeAccountBots));
  // Hubs hand call signaling from the realtime sockets, and ended sessions, to calls (above them).
  registerCallPort({
    handleFrame: onDemand(async () => (await signaling()).handleFrame),
    sessionsEnded: onDemand(async () => (await signaling()).sessionsEnded),
  });
  onReportTarget("story", async (db, reporterId, storyId) => {
    const { findVisibleStory } = await import("../stories/access");
    return (await findVisibleStory(db, storyId, reporterId)) !== null;
  });
  // Story media are read by exactly the story's audience (media cannot know audiences itself).
  registerMediaReader(
    "story",
    onDemand(async () => (await import("../stories/access")).canViewStoryMedia),
  );
  // Rooms attach and detach message media through media (which sits above them).
  registerMediaPort({
    attachOwned: async (d1, input, check) => (await media()).attachOwnedMedia(createDb(d1), input, check),
    attach: async (d1, chatId, messages) => (await media()).referenceMedia(createDb(d1), chatId, messages),
    release: async (d1, input) => (await media()).releaseMedia(createDb(d1), input),
    detach: async (env, chatId, messageIds) => {
      await (await media()).detachMessageMedia(createDb(env.DB), env, chatId, messageIds);
    },
  });
}
