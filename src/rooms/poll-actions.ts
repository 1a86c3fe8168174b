import { AppError } from "../lib/errors";
import { isShadowBanned, type MemberState } from "./member-cache";
import type { MessageRow } from "./message-rows";
import { isClosed, type PollTally, type StoredPoll } from "./polls";
import type { Emit, RoomCore } from "./room-core";
import type { Message } from "./types";

/**
 * Voting in polls, taking votes back and closing polls. Every check and its write run in one
 * synchronous transaction, so concurrent votes are counted exactly. Events carry nothing that
 * depends on who reads them: `poll.updated {messageId, seq, totalVoters, closed, options}` has
 * per-option counts only when the poll shows its results to everyone (`options: null`
 * otherwise: clients GET the message); `poll.closed` carries the final counts.
 *
 * A shadow-banned member's votes count for them alone: their own changes are told to them alone,
 * and after each event everyone gets, each shadow voter of that poll gets the same event again
 * with the counts as they see them (so their view never loses their vote, live or on replay).
 */
export class PollActions {
  constructor(private readonly room: RoomCore) {}

  /** Vote for `optionIds` (one unless multiple choice); a vote stands until retracted (409 `already_voted`). */
  async vote(userId: string, messageId: string, optionIds: string[]): Promise<Message> {
    const { member, row, poll } = await this.openPoll(userId, messageId);
    const chosen = [...new Set(optionIds)];
    const known = new Set(poll.definition.options.map((o) => o.id));
    const unknown = chosen.find((id) => !known.has(id));
    if (unknown !== undefined) throw invalidOptions(`There is no option ${unknown} in this poll`);
    if (chosen.length === 0 || (!poll.definition.multipleChoice && chosen.length > 1)) {
      throw invalidOptions(poll.definition.multipleChoice ? "Choose at least one option" : "This poll takes exactly one option");
    }
    const { store } = this.room;
    this.room.write((emit) => {
      if (store.polls.votesOf(row.seq, userId).length > 0) {
        throw new AppError(409, "already_voted", "You already voted: retract your vote first to change it");
      }
      const shadow = isShadowBanned(member);
      store.polls.vote(row.seq, userId, chosen, Date.now(), shadow);
      this.emitUpdate(emit, row, poll, shadow ? userId : null);
    });
    return this.viewFor(userId, row);
  }

  /** Take back my vote (not in quizzes: 403 `quiz_vote_final`); without a vote nothing changes. */
  async retract(userId: string, messageId: string): Promise<Message> {
    const { member, row, poll } = await this.openPoll(userId, messageId);
    if (poll.definition.quiz) throw new AppError(403, "quiz_vote_final", "Answers to a quiz cannot be taken back");
    const { store } = this.room;
    this.room.write((emit) => {
      if (store.polls.retract(row.seq, userId) > 0) this.emitUpdate(emit, row, poll, isShadowBanned(member) ? userId : null);
    });
    return this.viewFor(userId, row);
  }

  /** Close a poll: its creator, or an owner/admin (403 `permission_denied`). Closing a closed poll changes nothing. */
  async close(userId: string, messageId: string): Promise<Message> {
    const { member, row, poll } = await this.findPoll(userId, messageId);
    if (poll.definition.creatorId !== userId && member.role !== "owner" && member.role !== "admin") {
      throw new AppError(403, "permission_denied", "Only the poll's creator or an admin can close it");
    }
    if (poll.closedAt === null) this.room.write((emit) => this.closeNow(emit, row, closedTime(poll, Date.now())));
    return this.viewFor(userId, row);
  }

  /** Close the polls whose close time has come (the alarm); answers when the next one closes, or null. */
  closeDue(now: number): number | null {
    const { store } = this.room;
    const due = store.polls.due(now);
    if (due.length > 0) {
      this.room.write((emit) => {
        for (const poll of due) {
          const row = store.findBySeq(poll.seq);
          if (row) this.closeNow(emit, row, closedTime(poll, now));
        }
      });
    }
    return store.polls.nextCloseAt();
  }

  private closeNow(emit: Emit, row: MessageRow, at: number): void {
    const { polls } = this.room.store;
    polls.close(row.seq, at);
    const poll = polls.get(row.seq)!;
    for (const { audience, viewerId } of this.viewers(row, null)) {
      const tally = polls.tally(row.seq, viewerId);
      emit(
        "poll.closed",
        { messageId: row.id, seq: row.seq, totalVoters: tally.totalVoters, options: countsOf(poll, tally) },
        { audience },
      );
    }
  }

  /** A vote changed (`shadowVoter`: a shadow-banned member's vote): what each socket may see of it. */
  private emitUpdate(emit: Emit, row: MessageRow, poll: StoredPoll, shadowVoter: string | null): void {
    for (const { audience, viewerId } of this.viewers(row, shadowVoter)) {
      const tally = this.room.store.polls.tally(row.seq, viewerId);
      const options = poll.definition.hideResultsUntilVoted ? null : countsOf(poll, tally);
      emit("poll.updated", { messageId: row.id, seq: row.seq, totalVoters: tally.totalVoters, closed: false, options }, { audience });
    }
  }

  /**
   * Who is told of a change to the poll at `row`, and whose counts each is told: a shadow poll's
   * sender alone; a shadow voter's own change, that voter alone; otherwise everyone (public
   * counts), then each shadow voter again with their own.
   */
  private viewers(row: MessageRow, shadowVoter: string | null): { audience?: string; viewerId: string | null }[] {
    if (row.shadow === 1 && row.sender_id) return [{ audience: row.sender_id, viewerId: row.sender_id }];
    if (shadowVoter) return [{ audience: shadowVoter, viewerId: shadowVoter }];
    const shadowVoters = this.room.store.polls.shadowVoters(row.seq);
    return [{ viewerId: null }, ...shadowVoters.map((id) => ({ audience: id, viewerId: id }))];
  }

  /** A poll open for votes: not closed (409 `poll_closed`), in a chat that is not frozen. */
  private async openPoll(userId: string, messageId: string): Promise<{ member: MemberState; row: MessageRow; poll: StoredPoll }> {
    const found = await this.findPoll(userId, messageId);
    if (isClosed(found.poll, Date.now())) throw new AppError(409, "poll_closed", "This poll is closed");
    return found;
  }

  /** A poll message the member can see (404 otherwise; 400 `not_a_poll`), in a chat that is not frozen (403). */
  private async findPoll(userId: string, messageId: string): Promise<{ member: MemberState; row: MessageRow; poll: StoredPoll }> {
    const { store, access } = this.room;
    const member = await access.requireMember(userId);
    const row = access.visibleMessage(userId, messageId);
    if (row.deleted_at !== null) throw new AppError(404, "not_found", "Message not found");
    const poll = row.type === "poll" ? store.polls.get(row.seq) : undefined;
    if (!poll) throw new AppError(400, "not_a_poll", "This message is not a poll");
    if (access.config().frozen) throw new AppError(403, "chat_frozen", "This chat is frozen");
    return { member, row, poll };
  }

  private viewFor(userId: string, row: MessageRow): Message {
    const { store, access } = this.room;
    return store.toMessages([store.findBySeq(row.seq)!], access.chatId(), userId)[0]!;
  }
}

/** Per-option counts of a tally, in the poll's option order. */
const countsOf = (poll: StoredPoll, tally: PollTally) => poll.definition.options.map((o) => ({ id: o.id, votes: tally.counts[o.id] ?? 0 }));

/** When a poll closing at `now` closed: its close time if that passed already (the alarm runs late), else now. */
const closedTime = (poll: StoredPoll, now: number) => (poll.closesAt !== null && poll.closesAt < now ? poll.closesAt : now);

function invalidOptions(message: string): AppError {
  return new AppError(400, "validation_failed", message, [{ path: "body.optionIds", code: "invalid_option", message }]);
}
