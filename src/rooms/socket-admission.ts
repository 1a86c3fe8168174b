import type { Bindings } from "../env";
import { hubFor } from "../hubs/client";
import { AppError } from "../lib/errors";
import type { TokenBuckets } from "../lib/token-buckets";
import { loadPresenceRule } from "./directory";
import type { PresenceRules } from "./presence";
import type { RoomAccess } from "./room-access";
import type { RoomStore } from "./store";

/** What admitting a socket needs from the room. */
export interface AdmissionContext {
  env: Bindings;
  store: RoomStore;
  access: RoomAccess;
  rules: PresenceRules;
  /** Socket opens per user (SOCKET_OPENS). */
  opens: TokenBuckets;
  /** Whether the user has no socket here yet (then their presence rule is loaded). */
  needsRule(): boolean;
}

/**
 * Decide whether a socket the Worker authenticated may join: its session has not ended, the user
 * is not serving a flood penalty nor opening sockets faster than SOCKET_OPENS allows (both
 * checked before anything costs a round trip), is a member, and the session is registered with the user's hub
 * (a session that ended, even while this runs, is refused, so a socket never outlives it).
 * Throws the AppError the upgrade is answered with.
 */
export async function admitSocket(room: AdmissionContext, userId: string, sessionId: string): Promise<void> {
  const ended = () => new AppError(401, "session_revoked", "This session has ended; sign in again");
  if (room.store.admission.sessionEnded(sessionId)) throw ended();
  const penalty = room.store.admission.penaltyUntil(userId);
  if (penalty) {
    const retryAfter = Math.ceil((penalty - Date.now()) / 1000);
    throw new AppError(429, "rate_limited", `A socket of yours flooded this chat; try again in ${retryAfter} s`, { retryAfter });
  }
  const open = room.opens.take(userId);
  if (!open.ok) {
    const message = `Too many sockets opened to this chat; try again in ${open.retryAfter} s`;
    throw new AppError(429, "rate_limited", message, { retryAfter: open.retryAfter });
  }
  await room.access.requireMember(userId);
  const chatId = room.access.chatId();
  const registration = await hubFor(room.env, userId).register(sessionId, chatId);
  if (!registration.ok) throw ended();
  if (room.needsRule()) room.rules.set(userId, await loadPresenceRule(room.env.DB, chatId, userId));
  // The session may have ended while the hub or D1 answered.
  if (room.store.admission.sessionEnded(sessionId)) throw ended();
}
