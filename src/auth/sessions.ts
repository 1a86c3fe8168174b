import { and, desc, eq, gt, inArray, isNull, lt, ne } from "drizzle-orm";
import type { Database } from "../db/client";
import { refreshTokens, type SessionRow, sessions, users } from "../db/schema";
import type { Bindings } from "../env";
import { hubFor } from "../hubs/client";
import { sha256Hex } from "../lib/crypto";
import { AppError } from "../lib/errors";
import { publishEvent, publishEvents } from "../lib/events";
import { newId } from "../lib/ids";
import type { RequestInfo } from "../lib/request-info";
import { DAY, iso, MINUTE, now } from "../lib/time";
import type { SessionEndReason } from "../rooms/protocol";
import { denySession } from "./deny-list";
import { accountDeactivated, liftExpiredSuspension, suspensionExpired } from "./standing";
import { ACCESS_TOKEN_TTL_MS, newRefreshToken, REFRESH_TOKEN_TTL_MS, signAccessToken, type Tokens } from "./tokens";

export interface NewSession {
  userId: string;
  deviceId: string;
  deviceName: string | null;
  info: RequestInfo;
}

async function tokensFor(env: Bindings, userId: string, sessionId: string, refreshToken: string): Promise<Tokens> {
  return {
    accessToken: await signAccessToken(env, userId, sessionId),
    refreshToken,
    tokenType: "Bearer",
    expiresIn: ACCESS_TOKEN_TTL_MS / 1000,
  };
}

/** Start a session for a device sign-in and issue its first access and refresh tokens. */
export async function createSession(db: Database, env: Bindings, input: NewSession): Promise<{ session: SessionRow; tokens: Tokens }> {
  const at = now();
  const id = newId();
  // Sign first: a misconfigured secret must refuse before anything is written.
  const refresh = newRefreshToken();
  const tokens = await tokensFor(env, input.userId, id, refresh.token);
  const session: SessionRow = {
    id,
    userId: input.userId,
    deviceId: input.deviceId,
    deviceName: input.deviceName,
    ip: input.info.ip,
    country: input.info.country,
    userAgent: input.info.userAgent,
    createdAt: at,
    lastUsedAt: at,
    expiresAt: at + REFRESH_TOKEN_TTL_MS,
    revokedAt: null,
    revokedReason: null,
  };
  await db.batch([
    db.insert(sessions).values(session),
    db.insert(refreshTokens).values({ tokenHash: refresh.hash, sessionId: id, createdAt: at, expiresAt: session.expiresAt }),
  ]);
  await publishEvent(env, "session.created", { userId: input.userId, sessionId: id, deviceId: input.deviceId });
  return { session, tokens };
}

/**
 * Exchange a refresh token for new tokens, rotating it. A token that was already rotated is
 * evidence of theft: the whole session ends and the answer says so (`refresh_token_reused`). A
 * deactivated account's token answers `403 account_deactivated`.
 */
export async function refreshSession(db: Database, env: Bindings, refreshToken: string, info: RequestInfo): Promise<Tokens> {
  const at = now();
  const hash = sha256Hex(refreshToken);
  const [row] = await db
    .select({ token: refreshTokens, session: sessions, userStatus: users.status, suspendedUntil: users.suspendedUntil })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(refreshTokens.tokenHash, hash));
  if (!row || row.token.expiresAt <= at) {
    throw new AppError(401, "invalid_refresh_token", "Refresh token is invalid or expired");
  }
  // A deactivated account tells its own devices why (their sessions ended with the deactivation),
  // so the app can offer to reactivate; a session that ended for another reason answers as usual.
  if (row.userStatus === "deactivated" && (!row.session.revokedAt || row.session.revokedReason === "account_deactivated")) {
    if (!row.session.revokedAt) await revokeSession(db, env, row.session.userId, row.session.id, "account_deactivated");
    throw accountDeactivated();
  }
  if (row.session.revokedAt) {
    throw new AppError(401, "session_revoked", "This session has ended; sign in again");
  }
  // A suspension that has run out counts as active (and is lifted), like at sign-in.
  if (suspensionExpired({ status: row.userStatus, suspendedUntil: row.suspendedUntil }, at)) {
    await liftExpiredSuspension(db, row.session.userId, at);
  } else if (row.userStatus !== "active") {
    await revokeSession(db, env, row.session.userId, row.session.id, `account_${row.userStatus}`);
    throw new AppError(401, "session_revoked", "This session has ended; sign in again");
  }
  const reused = async () => {
    await revokeSession(db, env, row.session.userId, row.session.id, "refresh_token_reuse");
    return new AppError(
      401,
      "refresh_token_reused",
      "This refresh token was already used. The session has been ended to protect the account; sign in again",
    );
  };
  if (row.token.rotatedAt) throw await reused();

  // Claim the token atomically: of two concurrent refreshes only one may win.
  const claimed = await db
    .update(refreshTokens)
    .set({ rotatedAt: at })
    .where(and(eq(refreshTokens.tokenHash, hash), isNull(refreshTokens.rotatedAt)))
    .returning({ hash: refreshTokens.tokenHash });
  if (claimed.length === 0) throw await reused();

  const next = newRefreshToken();
  const expiresAt = at + REFRESH_TOKEN_TTL_MS;
  await db.batch([
    db.insert(refreshTokens).values({ tokenHash: next.hash, sessionId: row.session.id, createdAt: at, expiresAt }),
    db
      .update(sessions)
      .set({ lastUsedAt: at, expiresAt, ip: info.ip ?? row.session.ip, country: info.country ?? row.session.country })
      .where(eq(sessions.id, row.session.id)),
  ]);
  return tokensFor(env, row.session.userId, row.session.id, next.token);
}

/** Reasons that end a whole account's access: every socket of the user closes, whatever its session. */
const ACCOUNT_WIDE: ReadonlySet<SessionEndReason> = new Set([
  "account_suspended",
  "account_banned",
  "account_deleted",
  "account_deactivated",
]);

/**
 * Close the live sockets of ending sessions, before D1 records the ending: the user's hub tells
 * exactly the rooms holding those sessions' sockets (they close with the reason's code) and
 * refuses new sockets for them for as long as one of their access tokens could still verify.
 * The hub goes first so that a failure here leaves the sessions live and the request can be
 * retried; the other order could leave a socket open after a session D1 already calls ended.
 */
async function closeLiveSockets(env: Bindings, userId: string, sessionIds: string[], reason: SessionEndReason): Promise<void> {
  const wholeAccount = ACCOUNT_WIDE.has(reason);
  if (sessionIds.length === 0 && !wholeAccount) return;
  await hubFor(env, userId).endSessions(userId, sessionIds, reason, now() + ACCESS_TOKEN_TTL_MS + MINUTE, wholeAccount);
}

/** `session.ended` for the app's backend (webhooks). */
const sessionsEnded = (env: Bindings, userId: string, sessionIds: string[], reason: SessionEndReason) =>
  publishEvents(
    env,
    sessionIds.map((sessionId) => ({ type: "session.ended", data: { userId, sessionId, reason } })),
  );

/** Mark sessions ended in D1 and deny-list them in KV (REST stops accepting their tokens). */
async function recordEnded(db: Database, kv: KVNamespace, sessionIds: string[], reason: SessionEndReason): Promise<void> {
  // D1 binds at most 100 parameters a statement.
  for (let i = 0; i < sessionIds.length; i += 90) {
    await db
      .update(sessions)
      .set({ revokedAt: now(), revokedReason: reason })
      .where(and(inArray(sessions.id, sessionIds.slice(i, i + 90)), isNull(sessions.revokedAt)));
  }
  await Promise.all(sessionIds.map((id) => denySession(kv, id, reason)));
}

/** The ids of a user's sessions that have not ended, optionally leaving one out. */
async function liveSessionIds(db: Database, userId: string, extra?: ReturnType<typeof eq>, exceptSessionId?: string): Promise<string[]> {
  const conditions = [eq(sessions.userId, userId), isNull(sessions.revokedAt)];
  if (extra) conditions.push(extra);
  if (exceptSessionId) conditions.push(ne(sessions.id, exceptSessionId));
  const rows = await db
    .select({ id: sessions.id })
    .from(sessions)
    .where(and(...conditions));
  return rows.map((r) => r.id);
}

/** End one session of `userId`: its sockets close, its access tokens stop working at once. */
export async function revokeSession(
  db: Database,
  env: Bindings,
  userId: string,
  sessionId: string,
  reason: SessionEndReason,
): Promise<void> {
  await closeLiveSockets(env, userId, [sessionId], reason);
  await recordEnded(db, env.KV, [sessionId], reason);
  await sessionsEnded(env, userId, [sessionId], reason);
}

/** End every live session of a user, optionally keeping one (the caller's). Returns how many ended. */
export async function revokeUserSessions(
  db: Database,
  env: Bindings,
  userId: string,
  reason: SessionEndReason,
  exceptSessionId?: string,
): Promise<number> {
  const ids = await liveSessionIds(db, userId, undefined, exceptSessionId);
  await closeLiveSockets(env, userId, ids, reason);
  await recordEnded(db, env.KV, ids, reason);
  await sessionsEnded(env, userId, ids, reason);
  return ids.length;
}

/** The device a session belongs to (undefined for an unknown session). */
export async function sessionDeviceId(db: Database, sessionId: string): Promise<string | undefined> {
  const [row] = await db.select({ deviceId: sessions.deviceId }).from(sessions).where(eq(sessions.id, sessionId));
  return row?.deviceId;
}

/** End every live session of `userId` on the device `deviceId` (it was blocked). Returns how many ended. */
export async function revokeDeviceSessions(
  db: Database,
  env: Bindings,
  userId: string,
  deviceId: string,
  reason: SessionEndReason,
): Promise<number> {
  const ids = await liveSessionIds(db, userId, eq(sessions.deviceId, deviceId));
  await closeLiveSockets(env, userId, ids, reason);
  await recordEnded(db, env.KV, ids, reason);
  await sessionsEnded(env, userId, ids, reason);
  return ids.length;
}

/** End the caller's session `sessionId`; another user's session id is simply not found. */
export async function revokeOwnSession(db: Database, env: Bindings, userId: string, sessionId: string): Promise<void> {
  const [row] = await db
    .select({ id: sessions.id })
    .from(sessions)
    .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now())));
  if (!row) throw new AppError(404, "not_found", "Session not found");
  await revokeSession(db, env, userId, sessionId, "ended_by_user");
}

/** The user's live sessions, most recently used first. */
export async function listSessions(db: Database, userId: string): Promise<SessionRow[]> {
  return db
    .select()
    .from(sessions)
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now())))
    .orderBy(desc(sessions.lastUsedAt));
}

export const sessionView = (s: SessionRow, currentSessionId: string) => ({
  id: s.id,
  deviceId: s.deviceId,
  deviceName: s.deviceName,
  ip: s.ip,
  country: s.country,
  userAgent: s.userAgent,
  createdAt: iso(s.createdAt),
  lastUsedAt: iso(s.lastUsedAt),
  current: s.id === currentSessionId,
});

const TOUCH_INTERVAL_MS = MINUTE;
const lastTouched = new Map<string, number>();

/**
 * Record that a session was used, at most once a minute per session: an in-isolate memo skips
 * most writes and the conditional UPDATE makes the rest no-ops, so requests do not each write D1.
 */
export async function touchSession(db: Database, sessionId: string): Promise<void> {
  const at = now();
  if (at - (lastTouched.get(sessionId) ?? 0) < TOUCH_INTERVAL_MS) return;
  lastTouched.set(sessionId, at);
  if (lastTouched.size > 10_000) lastTouched.clear();
  await db
    .update(sessions)
    .set({ lastUsedAt: at })
    .where(and(eq(sessions.id, sessionId), lt(sessions.lastUsedAt, at - TOUCH_INTERVAL_MS)));
}

/** Delete what can never be used again: expired refresh tokens, and sessions dead for 30 days. */
export async function purgeExpired(db: Database, at = now()): Promise<{ tokens: number; sessions: number }> {
  const tokens = await db.delete(refreshTokens).where(lt(refreshTokens.expiresAt, at)).returning({ h: refreshTokens.tokenHash });
  const dead = await db
    .delete(sessions)
    .where(lt(sessions.expiresAt, at - 30 * DAY))
    .returning({ id: sessions.id });
  return { tokens: tokens.length, sessions: dead.length };
}
