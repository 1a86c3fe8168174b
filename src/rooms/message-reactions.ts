import { AppError } from "../lib/errors";
import { isShadowBanned } from "./member-cache";
import type { MessageRow } from "./message-rows";
import { MAX_REACTIONS_PER_USER, type ReactionKey, type ReactionRow } from "./reactions";
import type { RoomCore } from "./room-core";
import type { MessageReaction } from "./types";

/** A message's reactions as the member who changed them sees them (PUT …/reactions/{emoji}). */
export interface ReactionSummary {
  messageId: string;
  seq: number;
  reactions: MessageReaction[];
}

/**
 * Reacting to messages: members (channel subscribers too, as in Telegram; no sendMessages right
 * needed) put up to MAX_REACTIONS_PER_USER distinct emojis on a message they can see, and take
 * them off. Every change is logged (`reaction.added` / `reaction.removed`, replayed exactly by
 * `sync` and GET …/events) but not broadcast one by one: the room sends coalesced `reactions`
 * frames with the current counts (rooms/reaction-feed.ts). A frozen chat, or a direct chat where
 * one blocked the other or the other deleted their account, takes no changes. The emoji is
 * validated by the caller (one RGI emoji).
 */
export class MessageReactions {
  constructor(private readonly room: RoomCore) {}

  /** Add my `emoji` to a message (idempotent); 409 too_many_reactions past the per-member limit. */
  async add(userId: string, messageId: string, emoji: string): Promise<ReactionSummary> {
    const { row, shadow } = await this.changeable(userId, messageId);
    this.room.access.refuseIfEncrypted("Reacting");
    const { store } = this.room;
    const added = this.room.write((emit) => {
      if (store.findBySeq(row.seq)?.deleted_at != null) throw notFound();
      const outcome = store.reactions.add(row.seq, userId, emoji, Date.now(), shadow);
      if (outcome === "limit") {
        throw new AppError(409, "too_many_reactions", `At most ${MAX_REACTIONS_PER_USER} different reactions per message`, {
          max: MAX_REACTIONS_PER_USER,
        });
      }
      if (outcome === "exists") return false;
      emit("reaction.added", { messageId: row.id, seq: row.seq, userId, emoji }, reactionEvent(userId, shadow));
      return true;
    });
    if (added && !shadow) this.room.host.reactionsChanged(row.seq);
    return { messageId: row.id, seq: row.seq, reactions: store.reactions.summary(row.seq, userId) };
  }

  /** Take my `emoji` off a message (idempotent). */
  async remove(userId: string, messageId: string, emoji: string): Promise<null> {
    const { row, shadow } = await this.changeable(userId, messageId);
    const { store } = this.room;
    const removed = this.room.write((emit) => {
      if (!store.reactions.remove(row.seq, userId, emoji)) return false;
      emit("reaction.removed", { messageId: row.id, seq: row.seq, userId, emoji }, reactionEvent(userId, shadow));
      return true;
    });
    if (removed && !shadow) this.room.host.reactionsChanged(row.seq);
    return null;
  }

  /** Who reacted to a message (with `emoji` only, when given), oldest first: `limit + 1` rows after `after`. */
  async list(userId: string, messageId: string, q: { emoji?: string; after: ReactionKey | null; limit: number }): Promise<ReactionRow[]> {
    const row = await this.readable(userId, messageId);
    return this.room.store.reactions.list(row.seq, userId, { ...q, limit: q.limit + 1 });
  }

  /** A message the member can see and that is not deleted, else 404. */
  private async readable(userId: string, messageId: string): Promise<MessageRow> {
    await this.room.access.requireMember(userId);
    const row = this.room.access.visibleMessage(userId, messageId);
    if (row.deleted_at != null) throw notFound();
    return row;
  }

  /** As readable, in a chat that takes changes; `shadow` when the member is shadow-banned (their reactions count for them alone). */
  private async changeable(userId: string, messageId: string): Promise<{ row: MessageRow; shadow: boolean }> {
    const row = await this.readable(userId, messageId);
    const shadow = isShadowBanned(await this.room.access.requireMember(userId));
    const { access, store } = this.room;
    const config = access.config();
    if (config.frozen) throw new AppError(403, "chat_frozen", "This chat is frozen");
    if (config.type === "direct" && store.getMeta("peerDeleted") === "1") {
      throw new AppError(403, "peer_deleted", "This chat takes no changes: the account was deleted");
    }
    if (config.type === "direct" && store.getMeta("blocked") === "1") {
      throw new AppError(403, "blocked", "This chat takes no changes: one of you blocked the other");
    }
    return { row, shadow };
  }
}

/** A reaction change is logged, not sent live (the feed coalesces it); a shadow-banned member's is logged for them alone. */
const reactionEvent = (userId: string, shadow: boolean) => ({ broadcast: false, ...(shadow ? { audience: userId } : {}) });

const notFound = () => new AppError(404, "not_found", "Message not found");
