import { createDb } from "../db/client";
import type { Bindings } from "../env";
import type { CallPort, HubDevice } from "../hubs/call-port";
import type { CallClientFrame } from "../hubs/protocol";
import { callClient } from "./client";
import { currentCallId } from "./history";
import { iceServersFor } from "./ice-servers";

/**
 * Call signaling on the realtime socket (installed in the hubs by src/app/wiring.ts as their CallPort).
 * A device's frame goes to the call's room, which checks that the device may do it; the frame's
 * ack carries the call as it is now (`call.accept` also the ICE servers), or for signaling passed
 * to a peer how many of its sockets it reached.
 */
async function handleFrame(env: Bindings, from: HubDevice, frame: CallClientFrame): Promise<Record<string, unknown>> {
  const call = callClient(env, frame.callId);
  switch (frame.type) {
    case "call.accept": {
      const view = await call.accept(from.userId, from.sessionId);
      return { call: view, ...(await iceServersFor(env, from.userId)) };
    }
    case "call.reject":
      return { call: await call.decline(from.userId, from.sessionId, "rejected") };
    case "call.busy":
      return { call: await call.decline(from.userId, from.sessionId, "busy") };
    case "call.hangup":
      return { call: await call.hangUp(from.userId, from.sessionId) };
    case "call.offer":
    case "call.answer":
    case "call.ice":
      return call.relay(from, frame);
    default:
      return assertNever(frame);
  }
}

function assertNever(frame: never): never {
  throw new Error(`unhandled call frame ${JSON.stringify(frame)}`);
}

/** Ended sessions leave the call their user is on the line in (one D1 lookup on the line index). */
async function sessionsEnded(env: Bindings, userId: string, sessionIds: string[], wholeAccount: boolean): Promise<void> {
  const callId = await currentCallId(createDb(env.DB), userId);
  if (callId) await callClient(env, callId).sessionsEnded(userId, sessionIds, wholeAccount);
}

/** What the hubs call for call signaling and ended sessions. */
export const callSignaling: CallPort = { handleFrame, sessionsEnded };
