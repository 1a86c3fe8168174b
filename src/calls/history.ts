import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { type CallParticipantRow, type CallRow, callParticipants, calls } from "../db/schema";
import { notFound } from "../lib/errors";
import { newestFirst } from "../lib/pagination";
import { type CallView, callFromRows } from "./views";

/**
 * Reading call records from D1 (their writer is each call's room): my calls, newest first, and
 * one call of mine. A call someone else was in, and an unknown id, answer 404 alike.
 */

/** The participant rows of these calls, by call. */
async function participantsOf(db: Database, callIds: string[]): Promise<Map<string, CallParticipantRow[]>> {
  const byCall = new Map<string, CallParticipantRow[]>();
  if (callIds.length === 0) return byCall;
  const rows = await db.select().from(callParticipants).where(inArray(callParticipants.callId, callIds));
  for (const r of rows) byCall.set(r.callId, [...(byCall.get(r.callId) ?? []), r]);
  return byCall;
}

/** One page of my calls' rows, newest first, before `beforeId` (exported for the query-plan test). */
export const myCallsPageQuery = (db: Database, userId: string, beforeId: string | null, take: number) =>
  db
    .select({ call: calls })
    .from(callParticipants)
    .innerJoin(calls, eq(calls.id, callParticipants.callId))
    .where(and(eq(callParticipants.userId, userId), beforeId ? lt(callParticipants.callId, beforeId) : undefined))
    .orderBy(desc(callParticipants.callId))
    .limit(take);

/**
 * My calls (as caller or callee, in any chat), newest first: one page on the (user_id, call_id)
 * index, then the participants of that page's calls in one query on their primary key.
 */
export async function listMyCalls(db: Database, userId: string, limit: number, cursor?: string) {
  const page = await newestFirst(
    cursor,
    limit,
    async (beforeId, take): Promise<CallRow[]> => (await myCallsPageQuery(db, userId, beforeId, take)).map((r) => r.call),
    (r) => r,
  );
  const participants = await participantsOf(
    db,
    page.items.map((c) => c.id),
  );
  return { items: page.items.map((c) => callFromRows(c, participants.get(c.id) ?? [])), nextCursor: page.nextCursor };
}

/** One of my calls (`404 not_found` for anyone else's, and for unknown ids). */
export async function getMyCall(db: Database, userId: string, callId: string): Promise<CallView> {
  const [mine] = await db
    .select({ call: calls })
    .from(callParticipants)
    .innerJoin(calls, eq(calls.id, callParticipants.callId))
    .where(and(eq(callParticipants.callId, callId), eq(callParticipants.userId, userId)))
    .limit(1);
  if (!mine) throw notFound("Call");
  const participants = await participantsOf(db, [callId]);
  return callFromRows(mine.call, participants.get(callId) ?? []);
}

/** Throw `404 not_found` unless `userId` took part in the call (before its room is woken for them). */
export async function requireMyCall(db: Database, userId: string, callId: string): Promise<void> {
  const [row] = await db
    .select({ callId: callParticipants.callId })
    .from(callParticipants)
    .where(and(eq(callParticipants.callId, callId), eq(callParticipants.userId, userId)))
    .limit(1);
  if (!row) throw notFound("Call");
}

/**
 * The lookup of the call `userId` is on the line in. The states are written out, not bound, so
 * SQLite sees the partial line index's condition and reads that one entry, however many calls
 * the user had (exported for the query-plan test).
 */
export const lineQuery = (db: Database, userId: string) =>
  db
    .select({ callId: callParticipants.callId })
    .from(callParticipants)
    .where(and(eq(callParticipants.userId, userId), sql`${callParticipants.state} IN ('ringing', 'joined')`))
    .limit(1);

/** The call `userId` is on the line in (ringing or joined), if any: at most one. */
export async function currentCallId(db: Database, userId: string): Promise<string | null> {
  const [row] = await lineQuery(db, userId);
  return row?.callId ?? null;
}
