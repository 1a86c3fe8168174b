import { z } from "zod";

/** Frames larger than this close the socket with 1009 (after an error frame). */
export const MAX_FRAME_BYTES = 64 * 1024;
export const MAX_TEXT_LENGTH = 4096;
export const TYPING_TTL_MS = 6_000;

const FrameId = z.string().min(1).max(64).optional();
const Seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Every frame a client may send, validated as one discriminated union. */
export const ClientFrame = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("message.send"),
    id: FrameId,
    clientMessageId: z.string().min(1).max(64),
    messageType: z.literal("text").optional(),
    text: z.string().trim().min(1).max(MAX_TEXT_LENGTH),
  }),
  z.strictObject({ type: z.literal("typing.start"), id: FrameId }),
  z.strictObject({ type: z.literal("typing.stop"), id: FrameId }),
  z.strictObject({ type: z.literal("read"), id: FrameId, seq: Seq }),
  z.strictObject({ type: z.literal("delivered"), id: FrameId, seq: Seq }),
  z.strictObject({ type: z.literal("sync"), id: FrameId, afterEventSeq: Seq }),
  z.strictObject({ type: z.literal("ping"), id: FrameId }),
]);
export type ClientFrame = z.infer<typeof ClientFrame>;

/** The exact text of a bare ping, answered by the runtime without waking a hibernated room. */
export const BARE_PING = '{"type":"ping"}';
export const BARE_PONG = '{"type":"pong"}';

/** Close codes the room uses besides the standard ones. */
export const CLOSE = {
  tooBig: 1009,
  removed: 4001,
  banned: 4002,
  chatDeleted: 4004,
  sessionEnded: 4005,
} as const;
