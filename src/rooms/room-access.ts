import { AppError } from "../lib/errors";
import { loadConfigFromDirectory, loadMemberFromDirectory } from "./directory";
import type { MemberState } from "./member-cache";
import { shadowedFrom } from "./message-rows";
import type { RoomStore } from "./store";
import { type ChatConfig, effectivePermissions, type MemberPermissions } from "./types";

/**
 * Who may do what in a room: the chat's settings (read back from D1 when the room lost them) and
 * its members' rights, from the member cache or, for someone it has not seen, from D1. Every
 * check throws the AppError the caller answers with.
 */
export class RoomAccess {
  constructor(
    private readonly store: RoomStore,
    private readonly db: D1Database,
    /** The name the room was addressed by (the chat id), when the runtime knows it. */
    private readonly chatName: string | undefined,
  ) {}

  /** The chat's settings, or 404 when this room was never configured. */
  config(): ChatConfig {
    const config = this.store.config();
    if (!config) throw new AppError(404, "not_found", "Chat not found");
    return config;
  }

  /**
   * The chat's settings, read back from D1 when this room never got (or lost) its configure
   * call; `chatName` is the name the room was addressed by, which is the chat id.
   */
  async ensureConfig(): Promise<ChatConfig> {
    const known = this.store.config();
    if (known) return known;
    const loaded = this.chatName ? await loadConfigFromDirectory(this.db, this.chatName) : null;
    if (!loaded) throw new AppError(404, "not_found", "Chat not found");
    this.store.setConfig(loaded);
    return loaded;
  }

  /** The chat this room is. */
  chatId(): string {
    return this.config().chatId;
  }

  /** The caller's membership from the cache, or from D1 when the cache has not seen them yet. */
  async requireMember(userId: string): Promise<MemberState> {
    await this.ensureConfig();
    const cached = this.store.members.get(userId);
    if (cached) return cached;
    // D1 decides, also for former members: a re-add whose RPC was lost heals here.
    const loaded = await loadMemberFromDirectory(this.db, this.chatId(), userId);
    if (loaded) {
      this.store.members.upsert(loaded, loaded.readSeq);
      return this.store.members.get(userId)!;
    }
    const former = this.store.members.formerReason(userId);
    if (former === "banned") throw new AppError(403, "member_banned", "You are banned from this chat");
    if (former === "removed") throw new AppError(403, "member_removed", "You were removed from this chat");
    throw new AppError(403, "not_member", "You are not a member of this chat");
  }

  /** Membership plus the right to post: frozen chats, channel subscribers and muted members are refused. */
  async requireSender(userId: string): Promise<MemberState> {
    const member = await this.requireMember(userId);
    const config = this.config();
    if (config.frozen) throw new AppError(403, "chat_frozen", "This chat is frozen: nobody can post");
    const privileged = member.role === "owner" || member.role === "admin";
    if (config.type === "channel" && !privileged) throw new AppError(403, "channel_read_only", "Only channel admins can post");
    if (config.type === "direct" && this.store.getMeta("peerDeleted") === "1") {
      throw new AppError(403, "peer_deleted", "Messages can't be sent in this chat: the account was deleted");
    }
    if (config.type === "direct" && this.store.getMeta("blocked") === "1") {
      throw new AppError(403, "blocked", "Messages can't be sent in this chat: one of you blocked the other");
    }
    if (!effectivePermissions(member.role, config.permissions, member.overrides).sendMessages) {
      throw new AppError(403, "send_forbidden", "You may not send messages in this chat");
    }
    return member;
  }

  /**
   * Refuse `what` in an end-to-end encrypted chat (`422 encrypted_chat`): the server would see
   * content it must not, so such things travel inside the ciphertext.
   */
  refuseIfEncrypted(what: string): void {
    if (this.config().encrypted) {
      throw new AppError(422, "encrypted_chat", `${what} is not available in an end-to-end encrypted chat: send it inside the ciphertext`);
    }
  }

  /**
   * A send's type must fit the chat: an encrypted chat takes `encrypted` messages only (`422
   * encryption_required`), other chats never take them (`422 not_encrypted`).
   */
  checkSendFitsChat(type: string): void {
    const encrypted = !!this.config().encrypted;
    if (encrypted && type !== "encrypted") {
      throw new AppError(
        422,
        "encryption_required",
        "This chat is end-to-end encrypted: send type encrypted with ciphertext and/or envelopes",
      );
    }
    if (!encrypted && type === "encrypted") throw new AppError(422, "not_encrypted", "This chat is not end-to-end encrypted");
  }

  /** Refuse (403 `code`) a member whose effective permissions lack `permission`. */
  requirePermission(member: MemberState, permission: keyof MemberPermissions, code: string, message: string): void {
    if (!effectivePermissions(member.role, this.config().permissions, member.overrides)[permission]) throw new AppError(403, code, message);
  }

  /** Whether `userId` is a member now (the cache, or D1 for someone it has not seen). */
  async isMember(userId: string): Promise<boolean> {
    if (this.store.members.get(userId)) return true;
    const loaded = await loadMemberFromDirectory(this.db, this.chatId(), userId);
    if (loaded) this.store.members.upsert(loaded, loaded.readSeq);
    return loaded !== null;
  }

  /** A message the user may see (not deleted for them, not someone else's shadow message), else 404. */
  visibleMessage(userId: string, messageId: string) {
    const row = this.store.findById(messageId);
    if (!row || this.store.isHidden(userId, row.seq) || shadowedFrom(row, userId))
      throw new AppError(404, "not_found", "Message not found");
    return row;
  }
}
