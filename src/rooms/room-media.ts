import { AppError } from "../lib/errors";
import { MediaOutbox } from "./media-outbox";
import { shadowedFrom } from "./message-rows";
import type { RoomCore } from "./room-core";
import { StagedMedia } from "./staged-media";
import type { Attachment } from "./types";

/**
 * The room's side of attachments uploaded for this chat: staging them as media reports them
 * finished, and answering media's read check for items whose references are still on their way
 * to D1. Sending uses the two stores directly (MessageSender).
 */
export class RoomMedia {
  readonly staged: StagedMedia;
  readonly outbox: MediaOutbox;

  constructor(private readonly room: RoomCore) {
    this.staged = new StagedMedia(room.store.sql);
    this.outbox = new MediaOutbox(room.store.sql, {
      db: room.host.db,
      chatId: () => room.access.chatId(),
      wakeAt: (at) => room.host.wakeAt(at),
    });
  }

  /** `ownerId` (a member: else 404) finished uploading `item` for this chat. */
  async stage(ownerId: string, item: Attachment): Promise<void> {
    await this.room.access.requireMember(ownerId);
    this.staged.stage(ownerId, item, Date.now());
  }

  /**
   * Its owner is deleting the item: no send here takes it from now on. Answers whether a sent
   * message already carries it (its references still queued): then the deletion is refused.
   */
  unstage(mediaId: string): boolean {
    this.staged.unstage(mediaId);
    return this.outbox.pendingFor(mediaId).length > 0;
  }

  /**
   * Whether `viewerId`, a member, may read `mediaId` through a message here whose references
   * are not in D1 yet: the message is stored, not deleted, and visible to them.
   */
  async canReadPending(viewerId: string, mediaId: string): Promise<boolean> {
    const messageIds = this.outbox.pendingFor(mediaId);
    if (messageIds.length === 0) return false;
    try {
      await this.room.access.requireMember(viewerId);
    } catch (err) {
      if (err instanceof AppError) return false; // not a member (any more)
      throw err;
    }
    const { store } = this.room;
    return messageIds.some((id) => {
      const row = store.findById(id);
      return !!row && row.deleted_at === null && !store.isHidden(viewerId, row.seq) && !shadowedFrom(row, viewerId);
    });
  }
}
