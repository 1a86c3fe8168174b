import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { checkAttachmentsFit, checkContentShape, isMediaType } from "./content";
import { restrictedAccounts } from "./directory";
import { mediaPort } from "./media-port";
import type { MessageSender } from "./message-sender";
import type { RoomCore } from "./room-core";
import {
  checkTime,
  MAX_SCHEDULED_PER_MEMBER,
  MAX_SEND_ATTEMPTS,
  pendingChat,
  retryDelayMs,
  SCHEDULED_SCHEMA,
  type ScheduledContent,
  type ScheduledMessage,
  type ScheduledRow,
  scheduledView,
} from "./scheduled-types";
import { addMissingColumns } from "./schema-upgrade";
import type { Attachment, Message, SendInput } from "./types";

export type { ScheduledMessage };

/**
 * Scheduled messages: stored in the room with the id the message will have, sent by the room's
 * alarm when due (with the seq of that moment, through the one send path), listed, edited,
 * cancelled and sent early by their author only. Nobody else sees anything until the send: no
 * event for others, no unread count, no preview. The rules are checked when scheduling (rights,
 * content, attachments: attached then, so the sweep keeps them) and again when sending; a send
 * the chat's rules refuse by then is dropped, and the author's devices get a
 * `message.scheduled.failed` event with the reason.
 */
export class ScheduledMessages {
  constructor(
    private readonly sql: SqlStorage,
    private readonly room: RoomCore,
    private readonly sender: MessageSender,
  ) {
    sql.exec(SCHEDULED_SCHEMA);
    addMissingColumns(sql, "scheduled", [["attempts", "INTEGER NOT NULL DEFAULT 0"]]);
  }

  /** Schedule `input` for `sendAt` (ms); a retry with the same clientMessageId answers the scheduled one (`duplicate`). */
  async schedule(input: SendInput, sendAt: number): Promise<{ scheduled: ScheduledMessage; duplicate: boolean }> {
    const { access, store } = this.room;
    checkContentShape(input);
    checkTime(sendAt);
    await access.ensureConfig();
    access.checkSendFitsChat(input.type);
    access.refuseIfEncrypted("Scheduling a message");
    if (input.poll?.closesAt && Date.parse(input.poll.closesAt) <= sendAt) {
      const message = "A scheduled poll must close after it is sent";
      throw new AppError(400, "validation_failed", message, [{ path: "body.poll.closesAt", code: "invalid_date", message }]);
    }
    const member = await access.requireSender(input.userId);
    if (isMediaType(input.type)) access.requirePermission(member, "sendMedia", "media_forbidden", "You may not send media in this chat");
    const existing = this.findByClientId(input.userId, input.clientMessageId);
    if (existing) return { scheduled: scheduledView(this.room.access.chatId(), existing), duplicate: true };
    if (store.findByClientId(input.userId, input.clientMessageId)) {
      throw new AppError(409, "already_sent", "A message with this clientMessageId was already sent");
    }
    // Scheduling is sending, for the budgets: slow mode and the send rate apply now (the due send is not counted again).
    const refusal = store.limiter.refusal(input.userId, member.role === "member" ? access.config().slowModeSeconds : 0);
    if (refusal) throw refusal;
    const waiting = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM scheduled WHERE sender_id = ?", input.userId).one().n;
    if (waiting >= MAX_SCHEDULED_PER_MEMBER) {
      throw new AppError(409, "too_many_scheduled", `At most ${MAX_SCHEDULED_PER_MEMBER} scheduled messages per chat`, {
        max: MAX_SCHEDULED_PER_MEMBER,
      });
    }
    for (const [field, id] of [
      ["replyToId", input.replyToId],
      ["quoteId", input.quoteId],
    ] as const) {
      if (id) this.requireVisible(input.userId, id, field);
    }
    const id = newId();
    const chatId = access.chatId();
    const items = input.attachments
      ? await mediaPort().attachOwned(
          this.room.host.db,
          { ownerId: input.userId, mediaIds: input.attachments, chatId: pendingChat(chatId), messageId: id },
          (found) => checkAttachmentsFit(input.type, found),
        )
      : null;
    const { userId, clientMessageId, ...content } = input;
    const at = Date.now();
    const row: ScheduledRow = {
      id,
      sender_id: userId,
      client_message_id: clientMessageId,
      send_at: sendAt,
      input: JSON.stringify(content),
      attachments: items ? JSON.stringify(items) : null,
      created_at: at,
      updated_at: at,
      attempts: 0,
    };
    const stored = this.room.write((emit) => {
      // A concurrent retry may have scheduled it during the attach's round trip: then that one stands.
      const written = this.sql.exec(
        `INSERT INTO scheduled (id, sender_id, client_message_id, send_at, input, attachments, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sender_id, client_message_id) DO NOTHING`,
        ...[row.id, row.sender_id, row.client_message_id, row.send_at, row.input, row.attachments, row.created_at, row.updated_at],
      ).rowsWritten;
      if (written === 0) return false;
      store.limiter.take(userId, at);
      emit("message.scheduled", { scheduled: scheduledView(this.room.access.chatId(), row) }, { audience: userId });
      return true;
    });
    if (!stored) {
      this.releasePending(row);
      return { scheduled: scheduledView(this.room.access.chatId(), this.findByClientId(userId, clientMessageId)!), duplicate: true };
    }
    this.room.host.wakeAt(sendAt);
    return { scheduled: scheduledView(this.room.access.chatId(), row), duplicate: false };
  }

  /** My scheduled messages in this chat, soonest first. */
  async list(userId: string): Promise<ScheduledMessage[]> {
    await this.room.access.requireMember(userId);
    return this.sql
      .exec<ScheduledRow>("SELECT * FROM scheduled WHERE sender_id = ? ORDER BY send_at, id", userId)
      .toArray()
      .map((r) => scheduledView(this.room.access.chatId(), r));
  }

  /** Change my scheduled message's text (or caption) and/or its time. */
  async edit(userId: string, id: string, change: { text?: string; scheduledAt?: number }): Promise<ScheduledMessage> {
    const row = await this.mine(userId, id);
    const content = JSON.parse(row.input) as ScheduledContent;
    if (change.text !== undefined) {
      if (content.type === "sticker" || content.type === "location" || content.type === "contact" || content.type === "poll") {
        throw new AppError(409, "not_editable", `A ${content.type} message has no text to edit`);
      }
      content.text = change.text;
    }
    if (change.scheduledAt !== undefined) checkTime(change.scheduledAt);
    const updated: ScheduledRow = {
      ...row,
      input: JSON.stringify(content),
      send_at: change.scheduledAt ?? row.send_at,
      updated_at: Date.now(),
    };
    this.room.write((emit) => {
      this.sql.exec(
        "UPDATE scheduled SET input = ?, send_at = ?, updated_at = ?, attempts = 0 WHERE id = ?",
        updated.input,
        updated.send_at,
        updated.updated_at,
        id,
      );
      emit("message.scheduled.updated", { scheduled: scheduledView(this.room.access.chatId(), updated) }, { audience: userId });
    });
    this.room.host.wakeAt(updated.send_at);
    return scheduledView(this.room.access.chatId(), updated);
  }

  /** Cancel my scheduled message: it is never sent, and its attachments are let go. */
  async cancel(userId: string, id: string): Promise<void> {
    const row = await this.mine(userId, id);
    this.drop(row, { type: "message.scheduled.cancelled", payload: { id } });
  }

  /** Send my scheduled message now (its time becomes now). */
  async sendNow(userId: string, id: string): Promise<Message> {
    const row = await this.mine(userId, id);
    return (await this.sendRow(row)).message;
  }

  /**
   * The alarm: send what is due. A row whose author may not act now (suspended, banned,
   * deactivated, deleted) is dropped like one the chat's rules refuse; a send that failed for a
   * passing reason (the before-send hook or D1 unavailable) is tried again with backoff, up to
   * MAX_SEND_ATTEMPTS times. Answers when the next one is due, or null.
   */
  async sendDue(now: number): Promise<number | null> {
    const due = this.sql.exec<ScheduledRow>("SELECT * FROM scheduled WHERE send_at <= ? ORDER BY send_at, id LIMIT 100", now).toArray();
    if (due.length === 0) return this.nextAt();
    let restricted: Map<string, string>;
    try {
      restricted = await restrictedAccounts(this.room.host.db, [...new Set(due.map((r) => r.sender_id))], now);
    } catch (err) {
      for (const row of due) this.failedForNow(row, err);
      return this.nextAt();
    }
    for (const row of due) {
      const refusal = restricted.get(row.sender_id);
      if (refusal) {
        this.refuse(row, new AppError(403, refusal, "The author's account cannot send messages now"));
        continue;
      }
      try {
        await this.sendRow(row);
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500) this.failedForNow(row, err);
        // Cancelled, or edited (a new time or text) while it was being sent: nothing to drop here.
        else if (err.code !== "scheduled_changed") this.refuse(row, err);
      }
    }
    return this.nextAt();
  }

  /** The send failed for a passing reason: its turn comes again later (not at once: the alarm would spin), or it is given up. */
  private failedForNow(row: ScheduledRow, err: unknown): void {
    console.error(
      JSON.stringify({ level: "error", msg: "scheduled send failed", id: row.id, attempt: row.attempts + 1, error: String(err) }),
    );
    const attempts = row.attempts + 1;
    if (attempts >= MAX_SEND_ATTEMPTS) {
      const code = err instanceof AppError ? err.code : "send_failed";
      this.refuse(row, new AppError(503, code, `Not sent: still failing after ${attempts} tries`));
      return;
    }
    this.sql.exec(
      "UPDATE scheduled SET send_at = ?, attempts = ? WHERE id = ? AND updated_at = ?",
      Date.now() + retryDelayMs(attempts),
      attempts,
      row.id,
      row.updated_at,
    );
  }

  /**
   * The send is refused for good (the chat's rules, the author's account, retries exhausted):
   * dropped and the author told, unless it was edited or cancelled meanwhile (then that wins).
   */
  private refuse(row: ScheduledRow, err: AppError): void {
    const payload = { id: row.id, error: { code: err.code, message: err.message } };
    this.drop(row, { type: "message.scheduled.failed", payload }, row.updated_at);
  }

  /** When the next scheduled message is due, or null. */
  nextAt(): number | null {
    return this.sql.exec<{ at: number | null }>("SELECT min(send_at) AS at FROM scheduled").one().at;
  }

  /** Send a scheduled row through the one send path, taking the row in the same transaction. */
  private async sendRow(row: ScheduledRow): Promise<{ message: Message; duplicate: boolean }> {
    const content = JSON.parse(row.input) as ScheduledContent;
    const items = row.attachments ? (JSON.parse(row.attachments) as Attachment[]) : undefined;
    const input: SendInput = { ...content, userId: row.sender_id, clientMessageId: row.client_message_id, forwardedAttachments: items };
    // Taken only as read: an edit or a cancel meanwhile wins (the send stores nothing).
    const claim = () => this.sql.exec("DELETE FROM scheduled WHERE id = ? AND updated_at = ?", row.id, row.updated_at).rowsWritten > 0;
    const result = await this.sender.send(input, { id: row.id, claim });
    // Sent already under this clientMessageId (answered without storing): the scheduled one is done too.
    if (result.duplicate) claim();
    this.releasePending(row);
    return result;
  }

  /** Forget a scheduled row (only as last updated at `asOf`, when given), tell its author why, and let its attachments go. */
  private drop(row: ScheduledRow, event: { type: string; payload: Record<string, unknown> }, asOf?: number): void {
    const dropped = this.room.write((emit) => {
      const deleted =
        asOf === undefined
          ? this.sql.exec("DELETE FROM scheduled WHERE id = ?", row.id)
          : this.sql.exec("DELETE FROM scheduled WHERE id = ? AND updated_at = ?", row.id, asOf);
      if (deleted.rowsWritten === 0) return false;
      emit(event.type, event.payload, { audience: row.sender_id });
      return true;
    });
    if (dropped) this.releasePending(row);
  }

  /** Take back the references made when scheduling (the message was sent with its own, or never will be). */
  private releasePending(row: ScheduledRow): void {
    if (!row.attachments) return;
    const mediaIds = (JSON.parse(row.attachments) as Attachment[]).map((a) => a.mediaId);
    const { host, access } = this.room;
    host.waitUntil(mediaPort().release(host.db, { mediaIds, chatId: pendingChat(access.chatId()), messageId: row.id }));
  }

  /** My scheduled message (404 for anyone else's, or none). */
  private async mine(userId: string, id: string): Promise<ScheduledRow> {
    await this.room.access.requireMember(userId);
    const row = this.find(id);
    if (!row || row.sender_id !== userId) throw new AppError(404, "not_found", "Scheduled message not found");
    return row;
  }

  private find(id: string): ScheduledRow | undefined {
    return this.sql.exec<ScheduledRow>("SELECT * FROM scheduled WHERE id = ?", id).toArray()[0];
  }

  private findByClientId(senderId: string, clientMessageId: string): ScheduledRow | undefined {
    return this.sql
      .exec<ScheduledRow>("SELECT * FROM scheduled WHERE sender_id = ? AND client_message_id = ?", senderId, clientMessageId)
      .toArray()[0];
  }

  private requireVisible(userId: string, messageId: string, field: "replyToId" | "quoteId"): void {
    const row = this.room.store.findById(messageId);
    if (!row || row.deleted_at !== null || this.room.store.isHidden(userId, row.seq)) {
      throw new AppError(404, "not_found", "The message referred to does not exist in this chat", { field, messageId });
    }
  }
}
