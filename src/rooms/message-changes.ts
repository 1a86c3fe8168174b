import { AppError } from "../lib/errors";
import { detectEntities } from "./entities";
import { attachmentIdsOf, contentJson, type MessageContent, type MessageRow } from "./message-rows";
import type { RoomCore } from "./room-core";
import type { GeoLocation, Message } from "./types";

/** Authors may edit, and delete for everyone, for this long after sending. */
export const CHANGE_WINDOW_MS = 48 * 3600_000;

/** An edit: new text (or caption), or a live location's new position. */
export interface MessageEdit {
  text?: string;
  location?: GeoLocation;
}

/** One earlier version of a message (`GET …/edits`). */
export interface MessageVersion {
  text: string | null;
  location: GeoLocation | null;
  /** When this version was written (sent, or an earlier edit). */
  createdAt: string;
}

/**
 * Changing what was said: edits (with their history), deletes for me or for everyone (content,
 * history, mentions and attachments erased; a tombstone keeps the seq), and clearing the chat.
 */
export class MessageChanges {
  constructor(private readonly room: RoomCore) {}

  /** Edit my message within 48 hours: text or caption, or the position of a live location. */
  async edit(userId: string, messageId: string, edit: MessageEdit): Promise<Message> {
    const { store, access } = this.room;
    await access.requireMember(userId);
    access.refuseIfEncrypted("Editing on the server");
    const row = access.visibleMessage(userId, messageId);
    if (row.sender_id !== userId || row.type === "system")
      throw new AppError(403, "not_message_author", "Only the author can edit a message");
    if (row.deleted_at) throw new AppError(404, "not_found", "Message not found");
    if (Date.now() - row.created_at > CHANGE_WINDOW_MS)
      throw new AppError(403, "edit_window_passed", "Messages can be edited for 48 hours");
    if (access.config().frozen) throw new AppError(403, "chat_frozen", "This chat is frozen");
    const next = editedContent(row, edit);
    const message = this.room.write((emit) => {
      store.editMessage(row, next, Date.now());
      const edited = store.toMessage(store.findBySeq(row.seq)!, access.chatId());
      edited.reactions = store.reactions.summary(row.seq, null); // counts for everyone, `me` false
      emit("message.updated", { message: edited }, { audience: audienceOf(row) });
      return edited;
    });
    if (row.seq === store.lastSeq()) this.room.summaryChanged();
    return { ...message, reactions: store.reactions.summary(row.seq, userId) };
  }

  /** Earlier versions of a message, oldest first (members who can see it). */
  async versions(userId: string, messageId: string): Promise<MessageVersion[]> {
    await this.room.access.requireMember(userId);
    const row = this.room.access.visibleMessage(userId, messageId);
    return this.room.store.edits.list(row.seq).map((v) => ({
      text: v.text,
      location: v.content ? ((JSON.parse(v.content) as MessageContent).location ?? null) : null,
      createdAt: new Date(v.at).toISOString(),
    }));
  }

  /** Delete for everyone (the author within 48 hours, owners and admins any time) or hide for me. */
  async remove(userId: string, messageId: string, scope: "me" | "everyone"): Promise<null> {
    const { store, access } = this.room;
    const member = await access.requireMember(userId);
    const row = access.visibleMessage(userId, messageId);
    if (scope === "me") {
      store.hideFor(userId, row.seq);
      return null;
    }
    const moderator = member.role === "owner" || member.role === "admin";
    if (row.sender_id !== userId && !moderator) {
      throw new AppError(403, "not_message_author", "Only the author or an admin can delete this for everyone");
    }
    if (row.deleted_at) return null;
    if (!moderator && Date.now() - row.created_at > CHANGE_WINDOW_MS) {
      throw new AppError(403, "delete_window_passed", "Messages can be deleted for everyone for 48 hours");
    }
    this.room.write((emit) => {
      // Media may erase what the message carried: nothing staged may point at it any more.
      this.room.media.staged.unstage(...attachmentIdsOf(row));
      store.deleteMessage(row, Date.now());
      store.events.scrubMessages({ seqs: [row.seq] });
      this.room.pins.dropDeleted({ seq: row.seq });
      if (row.type !== "system") store.summary.countRemoved(1);
      emit("message.deleted", { messageId: row.id, seq: row.seq }, { audience: audienceOf(row) });
      if (row.reply_to_seq !== null && row.shadow === null) {
        const parent = store.findBySeq(row.reply_to_seq);
        if (parent) emit("message.replies", { messageId: parent.id, seq: parent.seq, replyCount: parent.reply_count });
      }
    });
    this.room.summaryChanged();
    if (hasAttachments(row)) await this.detach([row.id]);
    return null;
  }

  /**
   * Clear the chat's history for everyone (owners and admins): every message so far is deleted,
   * seqs are never reused, and a `chat.truncated` event tells clients to drop what they hold up
   * to `seq`. Unread counts fall to zero with it; the media of the cleared messages go too.
   */
  async truncate(actorId: string): Promise<{ seq: number; removed: number }> {
    const { store, access } = this.room;
    const member = await access.requireMember(actorId);
    if (member.role !== "owner" && member.role !== "admin") {
      throw new AppError(403, "permission_denied", "Only owners and admins can clear the history");
    }
    let withMedia: string[] = [];
    const result = this.room.write((emit) => {
      const seq = store.lastSeq();
      withMedia = store.idsWithAttachmentsThrough(seq);
      for (const id of withMedia) this.room.media.staged.unstage(...attachmentIdsOf(store.findById(id)!));
      store.summary.countRemoved(store.countUserMessagesThrough(seq));
      const removed = store.truncate(seq);
      store.events.scrubMessages({ through: seq });
      this.room.pins.dropDeleted({ throughSeq: seq });
      emit("chat.truncated", { seq, actorId });
      return { seq, removed };
    });
    this.room.summaryChanged();
    if (withMedia.length > 0) await this.detach(withMedia);
    return result;
  }

  /**
   * Drop the media references of deleted messages before answering (media erases what nobody
   * references any more). The delete itself already committed: a failure here is logged, and the
   * items stay readable only by members of chats that still reference them.
   */
  private async detach(messageIds: string[]): Promise<void> {
    try {
      await this.room.host.detachMedia(messageIds);
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "detaching media failed", messageIds, error: String(err) }));
    }
  }
}

/** Changes to a shadow message are told to its sender alone, like the message itself. */
const audienceOf = (row: MessageRow) => (row.shadow === 1 ? (row.sender_id ?? undefined) : undefined);

const hasAttachments = (row: MessageRow) => row.content?.includes('"attachments"');

/** The text and content a message has after `edit`, checked against its type. */
function editedContent(row: MessageRow, edit: MessageEdit): { text: string | null; content: string | null } {
  const content: MessageContent = row.content ? (JSON.parse(row.content) as MessageContent) : {};
  if (edit.location !== undefined) {
    const live = content.location?.liveUntil;
    if (row.type !== "location" || !live || Date.parse(live) <= Date.now()) {
      throw new AppError(403, "location_not_live", "Only a live location can be moved, until its liveUntil");
    }
    content.location = { ...edit.location, liveUntil: live };
  }
  if (edit.text !== undefined && ["location", "contact", "sticker", "poll"].includes(row.type)) {
    throw new AppError(400, "validation_failed", `A ${row.type} message has no text to edit`, [
      { path: "text", code: "invalid_content", message: `A ${row.type} message has no text` },
    ]);
  }
  // Mentions, replies and attachments stay as sent; the entities follow the text.
  if (edit.text !== undefined) {
    const entities = detectEntities(edit.text);
    content.entities = entities.length > 0 ? entities : undefined;
  }
  return { text: edit.text ?? row.text, content: contentJson(content) };
}
