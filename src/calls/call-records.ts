import { isUniqueViolation } from "../lib/db-errors";
import { AppError } from "../lib/errors";
import type { CallState, Step } from "./call-state";
import type { CallRecord } from "./views";

/**
 * The call's record in D1, written only by the call's room: the `calls` row and one
 * `call_participants` row per person. The line of each person (ringing or joined, in one call at
 * most: a unique partial index) is claimed here, so "busy" is decided by D1 in one write.
 */

const alreadyInCall = () => new AppError(409, "already_in_call", "You are already in a call; hang up first");

/**
 * Record a new call: its row, the caller joined on their session, and each callee ringing when
 * their line is free, else busy, all in one batch (a transaction). The caller's line must be free
 * (`409 already_in_call`, and nothing is written). Answers who rings and who is busy.
 */
export async function recordNewCall(
  d1: D1Database,
  call: CallRecord,
  callerSessionId: string,
  calleeIds: readonly string[],
): Promise<{ ringing: Set<string>; busy: Set<string> }> {
  const at = call.startedAt;
  const ids = JSON.stringify(calleeIds);
  let results: D1Result<{ user_id: string }>[];
  try {
    results = await d1.batch<{ user_id: string }>([
      d1
        .prepare("INSERT INTO calls (id, chat_id, caller_id, kind, media, status, started_at) VALUES (?, ?, ?, ?, ?, 'ringing', ?)")
        .bind(call.id, call.chatId, call.callerId, call.kind, call.media, at),
      d1
        .prepare(
          "INSERT INTO call_participants (call_id, user_id, state, session_id, invited_at, joined_at) VALUES (?, ?, 'joined', ?, ?, ?)",
        )
        .bind(call.id, call.callerId, callerSessionId, at, at),
      // A callee already on a line (the partial unique index) is skipped here...
      d1
        .prepare(
          `INSERT INTO call_participants (call_id, user_id, state, invited_at)
           SELECT ?1, j.value, 'ringing', ?2 FROM json_each(?3) j WHERE true
           ON CONFLICT DO NOTHING RETURNING user_id`,
        )
        .bind(call.id, at, ids),
      // ...and recorded busy.
      d1
        .prepare(
          `INSERT INTO call_participants (call_id, user_id, state, invited_at)
           SELECT ?1, j.value, 'busy', ?2 FROM json_each(?3) j
            WHERE NOT EXISTS (SELECT 1 FROM call_participants p WHERE p.call_id = ?1 AND p.user_id = j.value)
           RETURNING user_id`,
        )
        .bind(call.id, at, ids),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) throw alreadyInCall();
    throw err;
  }
  return {
    ringing: new Set((results[2]?.results ?? []).map((r) => r.user_id)),
    busy: new Set((results[3]?.results ?? []).map((r) => r.user_id)),
  };
}

/**
 * Write what a step changed (the call row, changed participants) in one batch. Joining again
 * claims the line: someone who meanwhile is in another call gets `409 already_in_call`.
 */
export async function recordStep(d1: D1Database, state: CallState, step: Step): Promise<void> {
  const statements: D1PreparedStatement[] = [];
  if (step.callChanged) {
    statements.push(
      d1
        .prepare("UPDATE calls SET status = ?, answered_at = ?, ended_at = ?, duration_seconds = ? WHERE id = ?")
        .bind(state.status, state.answeredAt, state.endedAt, state.durationSeconds, state.id),
    );
  }
  for (const p of state.participants) {
    if (!step.changed.has(p.userId)) continue;
    statements.push(
      d1
        .prepare("UPDATE call_participants SET state = ?, session_id = ?, joined_at = ?, left_at = ? WHERE call_id = ? AND user_id = ?")
        .bind(p.state, p.sessionId, p.joinedAt, p.leftAt, state.id, p.userId),
    );
  }
  if (statements.length === 0) return;
  try {
    await d1.batch(statements);
  } catch (err) {
    if (isUniqueViolation(err)) throw alreadyInCall();
    throw err;
  }
}

/** A call that could not be set up after its lines were claimed: it ends missed and frees every line. */
export async function abandonCall(d1: D1Database, callId: string, at: number): Promise<void> {
  await d1.batch([
    d1
      .prepare(
        `UPDATE call_participants SET state = CASE state WHEN 'ringing' THEN 'missed' ELSE 'left' END, session_id = NULL, left_at = ?2
          WHERE call_id = ?1 AND state IN ('ringing', 'joined')`,
      )
      .bind(callId, at),
    d1.prepare("UPDATE calls SET status = 'missed', ended_at = ?2 WHERE id = ?1").bind(callId, at),
  ]);
}
