import { AppError } from "../lib/errors";
import { readJsonFrame } from "../lib/frames";
import { isShadowBanned } from "./member-cache";
import { CLOSE, ClientFrame, MAX_FRAME_BYTES, TYPING_TTL_MS } from "./protocol";
import type { RoomLog } from "./room-log";
import { type RoomSockets, type SocketInfo, viewerOf } from "./sockets";
import type { RoomStore } from "./store";

/**
 * Read one client frame: at most 64 KiB (else an error and close 1009), JSON text, and one of the
 * ClientFrame union (lib/frames.ts).
 */
export function readFrame(data: string | ArrayBuffer) {
  return readJsonFrame(data, ClientFrame, MAX_FRAME_BYTES);
}

/** The `error` frame for a problem, with the request's id when known. */
export const errorFrame = (error: AppError, id?: string) => ({
  type: "error",
  ...(id ? { id } : {}),
  code: error.code,
  message: error.message,
  ...(error.details ? { details: error.details } : {}),
});

/** What a frame handler needs from the room around it. */
export interface FrameContext {
  log: RoomLog;
  sockets: RoomSockets;
  store: RoomStore;
  scheduleAlarm(at: number): Promise<void>;
}

/**
 * Act on one valid frame from `info`'s socket. Frames take the same paths as REST (RoomLog);
 * errors are thrown (AppError) and answered by the caller as an `error` frame.
 */
export async function handleFrame(room: FrameContext, ws: WebSocket, info: SocketInfo, frame: ClientFrame): Promise<void> {
  const { log, sockets, store } = room;
  switch (frame.type) {
    case "message.send": {
      const { type: _frame, id: _id, messageType, scheduledAt, ...content } = frame;
      const input = { ...content, type: messageType, userId: info.userId, senderDeviceId: info.keyDevice?.deviceId ?? null };
      if (scheduledAt) {
        const { scheduled, duplicate } = await log.scheduled.schedule(input, Date.parse(scheduledAt));
        sockets.reply(ws, { type: "ack", id: frame.id, scheduled, duplicate });
        return;
      }
      const { message, duplicate } = await log.sender.send(input);
      sockets.reply(ws, { type: "ack", id: frame.id, message, duplicate });
      return;
    }
    case "message.edit": {
      const message = await log.changes.edit(info.userId, frame.messageId, { text: frame.text, location: frame.location });
      sockets.reply(ws, { type: "ack", id: frame.id, message });
      return;
    }
    case "message.delete":
      await log.changes.remove(info.userId, frame.messageId, frame.for);
      sockets.reply(ws, { type: "ack", id: frame.id });
      return;
    case "message.pin":
      sockets.reply(ws, { type: "ack", id: frame.id, ...(await log.pins.pin(info.userId, frame.messageId)) });
      return;
    case "message.unpin":
      await log.pins.unpin(info.userId, frame.messageId);
      sockets.reply(ws, { type: "ack", id: frame.id });
      return;
    case "poll.vote":
      sockets.reply(ws, { type: "ack", id: frame.id, message: await log.polls.vote(info.userId, frame.messageId, frame.optionIds) });
      return;
    case "poll.retract":
      sockets.reply(ws, { type: "ack", id: frame.id, message: await log.polls.retract(info.userId, frame.messageId) });
      return;
    case "poll.close":
      sockets.reply(ws, { type: "ack", id: frame.id, message: await log.polls.close(info.userId, frame.messageId) });
      return;
    case "reaction.add":
      sockets.reply(ws, { type: "ack", id: frame.id, ...(await log.reactions.add(info.userId, frame.messageId, frame.emoji)) });
      return;
    case "reaction.remove":
      await log.reactions.remove(info.userId, frame.messageId, frame.emoji);
      sockets.reply(ws, { type: "ack", id: frame.id });
      return;
    case "draft.set":
      sockets.reply(ws, {
        type: "ack",
        id: frame.id,
        draft: await log.drafts.put(info.userId, { text: frame.text, replyToId: frame.replyToId }),
      });
      return;
    case "draft.clear":
      await log.drafts.remove(info.userId);
      sockets.reply(ws, { type: "ack", id: frame.id });
      return;
    case "typing.start":
    case "typing.stop": {
      const member = await log.access.requireMember(info.userId);
      // A shadow-banned member types for nobody (and is told nothing different).
      if (isShadowBanned(member)) {
        sockets.reply(ws, { type: "ack", id: frame.id });
        return;
      }
      if (frame.type === "typing.start") {
        const expiresAt = Date.now() + TYPING_TTL_MS;
        store.transient.setTyping(info.userId, expiresAt);
        sockets.broadcast({ type: "typing", userId: info.userId, typing: true, expiresAt: new Date(expiresAt).toISOString() }, ws);
        await room.scheduleAlarm(expiresAt);
      } else if (store.transient.clearTyping(info.userId)) {
        sockets.broadcast({ type: "typing", userId: info.userId, typing: false }, ws);
      }
      sockets.reply(ws, { type: "ack", id: frame.id });
      return;
    }
    case "read":
    case "delivered": {
      const state = await log.reads.mark(info.userId, frame.type, frame.seq);
      sockets.reply(ws, { type: "ack", id: frame.id, ...state });
      return;
    }
    case "sync": {
      const page = await log.events(viewerOf(info), frame.afterEventSeq, 500);
      // The replay goes out as one batch with its ack last.
      for (const event of page.events) sockets.send(ws, event);
      sockets.reply(ws, {
        type: "ack",
        id: frame.id,
        lastEventSeq: page.lastEventSeq,
        hasMore: page.hasMore,
        tooFarBehind: page.tooFarBehind,
      });
      return;
    }
    case "envelope.ack":
      sockets.reply(ws, {
        type: "ack",
        id: frame.id,
        ...(await log.encrypted.acknowledge(viewerOf(info), frame.messageIds)),
      });
      return;
    case "ping":
      sockets.reply(ws, { type: "ack", id: frame.id, pong: true, now: new Date().toISOString() });
      return;
    default:
      assertNever(frame);
  }
}

function assertNever(frame: never): never {
  throw new Error(`unhandled frame ${JSON.stringify(frame)}`);
}

/**
 * Act on a frame and answer failures on the socket: an AppError becomes its `error` frame; a bug
 * is logged with the socket's request id and answered `internal`, and the socket stays open.
 */
export async function answerFrame(room: FrameContext, ws: WebSocket, info: SocketInfo, frame: ClientFrame): Promise<void> {
  try {
    await handleFrame(room, ws, info, frame);
  } catch (err) {
    if (err instanceof AppError) return room.sockets.reply(ws, errorFrame(err, frame.id));
    console.error(
      JSON.stringify({
        level: "error",
        msg: "socket frame failed",
        requestId: info.requestId,
        chatId: room.store.config()?.chatId ?? null,
        userId: info.userId,
        frame: frame.type,
        frameId: frame.id ?? null,
        error: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err),
      }),
    );
    room.sockets.reply(ws, errorFrame(new AppError(500, "internal", "Internal error; the frame was not processed"), frame.id));
  }
}

/**
 * A frame on a socket the room already closed (its session ended, its member was removed…):
 * nothing of it is stored or delivered. The first one is answered with the reason (if the
 * socket still takes frames); the rest are dropped, so a client that keeps sending costs nothing.
 */
export function refuseOnClosedSocket(sockets: RoomSockets, ws: WebSocket, info: SocketInfo, data: string | ArrayBuffer): void {
  if (!sockets.markRefused(ws)) return;
  const id = typeof data === "string" ? /"id"\s*:\s*"([^"]{1,64})"/.exec(data)?.[1] : undefined;
  sockets.reply(ws, errorFrame(closedSocketError(info.closedWith!), id));
}

/** The error a frame gets when it arrives on a socket the room already closed. */
export function closedSocketError(closedWith: { code: number; reason: string }): AppError {
  const code = CLOSED_SOCKET_CODES[closedWith.code] ?? "socket_closed";
  return new AppError(
    code === "session_revoked" ? 401 : 403,
    code,
    `This socket was closed (${closedWith.reason}); the frame was not processed`,
    {
      closeCode: closedWith.code,
    },
  );
}

const CLOSED_SOCKET_CODES: Record<number, string> = {
  [CLOSE.sessionEnded]: "session_revoked",
  [CLOSE.accountRestricted]: "account_restricted",
  [CLOSE.deviceBlocked]: "device_blocked",
  [CLOSE.removed]: "member_removed",
  [CLOSE.banned]: "member_banned",
  [CLOSE.chatDeleted]: "not_found",
  [CLOSE.tooManySockets]: "too_many_sockets",
  [CLOSE.policyViolation]: "rate_limited",
};
