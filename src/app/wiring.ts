import { callSignaling } from "../calls/signaling";
import { removeAccountFromChats } from "../chats/account-removal";
import { syncDirectChatBlock } from "../chats/direct-blocks";
import { createDb } from "../db/client";
import { registerCallPort } from "../hubs/call-port";
import { registerMediaReader } from "../media/access";
import { attachOwnedMedia, detachMessageMedia, referenceMedia, releaseMedia } from "../media/attachments";
import { removeAccountMedia } from "../media/service";
import { onReportTarget } from "../reports/target-checks";
import { registerMediaPort } from "../rooms/media-port";
import { onBlockChange } from "../social/block-hooks";
import { canViewStoryMedia, findVisibleStory } from "../stories/access";
import { removeAccountStories } from "../stories/account-removal";
import { removeAccountBots } from "../users/bots";
import { onAccountDeletion } from "../users/deletion-hooks";

/**
 * Connects modules to the ones above them through the hooks and ports the lower ones offer, so
 * imports run one way (README, Layers). Runs once per isolate, before anything is served: the
 * Durable Objects, cron and queues rely on these as much as the routes do.
 */
export function wireFeatures(): void {
  // Chats cleans up after a deleted account (users/deletion-hooks.ts) and stops or resumes posting
  // in a direct chat when a block between its members changes (social/block-hooks.ts).
  onAccountDeletion(removeAccountFromChats);
  onAccountDeletion(removeAccountMedia);
  onBlockChange(syncDirectChatBlock);
  // Stories: an erased author's stories expire at once; a story is reported only by someone who can see it.
  onAccountDeletion(removeAccountStories);
  // Bots: an erased bot's token goes; an erased user's bots are erased too (users/bots.ts).
  onAccountDeletion(removeAccountBots);
  // Hubs hand call signaling from the realtime sockets, and ended sessions, to calls (above them).
  registerCallPort(callSignaling);
  onReportTarget("story", async (db, reporterId, storyId) => (await findVisibleStory(db, storyId, reporterId)) !== null);
  // Story media are read by exactly the story's audience (media cannot know audiences itself).
  registerMediaReader("story", canViewStoryMedia);
  // Rooms attach and detach message media through media (which sits above them).
  registerMediaPort({
    attachOwned: (d1, input, check) => attachOwnedMedia(createDb(d1), input, check),
    attach: (d1, chatId, messages) => referenceMedia(createDb(d1), chatId, messages),
    release: (d1, input) => releaseMedia(createDb(d1), input),
    detach: async (env, chatId, messageIds) => {
      await detachMessageMedia(createDb(env.DB), env, chatId, messageIds);
    },
  });
}
