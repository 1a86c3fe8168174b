import type { Bindings } from "../env";
import { hubFor } from "../hubs/client";
import { AppError } from "../lib/errors";
import { chatRoom } from "../rooms/client";
import type { CallState } from "./call-state";
import type { Delivery } from "./frames";

/** What a call's room does outside itself once a change is written: frames to devices, the chat's system message. */

/**
 * Frames go to each user's hub (which sends them to the addressed devices), in order per user,
 * users in parallel. A hub that cannot be reached is logged: the call goes on, and what it missed
 * can be read from GET /calls/{id}.
 */
export async function deliverFrames(env: Pick<Bindings, "USER_HUB">, deliveries: readonly Delivery[]): Promise<void> {
  const byUser = new Map<string, Delivery[]>();
  for (const d of deliveries) byUser.set(d.userId, [...(byUser.get(d.userId) ?? []), d]);
  await Promise.all(
    [...byUser].map(async ([userId, list]) => {
      try {
        const hub = hubFor(env, userId);
        for (const d of list) await hub.tellCallDevices(d.frame, d.target);
      } catch (err) {
        console.error(JSON.stringify({ level: "error", msg: "call frame not delivered", userId, error: String(err) }));
      }
    }),
  );
}

/**
 * The chat's system message about a finished call: `{event: "call", actorId: the caller, callId,
 * kind, status, durationSeconds}`, appended by the chat's room like any notice (so it is in the
 * history, the events and the chat list in order). Answers whether trying again is pointless:
 * written, or refused by the room (an AppError, e.g. the chat is gone); false after a failure
 * that may pass.
 */
export async function postCallNotice(env: Pick<Bindings, "CHAT_ROOM">, call: CallState): Promise<boolean> {
  try {
    await chatRoom(env, call.chatId).notice({
      event: "call",
      actorId: call.callerId,
      callId: call.id,
      kind: call.kind,
      status: call.status,
      durationSeconds: call.durationSeconds,
    });
    return true;
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "call notice failed", callId: call.id, error: String(err) }));
    return err instanceof AppError;
  }
}
