import { z } from "@hono/zod-openapi";
import { CALL_KINDS, CALL_MEDIA, CALL_STATUSES, PARTICIPANT_STATES } from "../db/schema";

export { PageQuery } from "../lib/pagination";

export const CallIdParam = z.object({ callId: z.uuid().openapi({ param: { name: "callId", in: "path" } }) });

export const StartCallBody = z
  .strictObject({
    chatId: z.uuid().openapi({ description: "A direct chat or a group I am a member of" }),
    kind: z.enum(CALL_KINDS),
  })
  .openapi("StartCallRequest");

export const CallParticipant = z
  .object({
    userId: z.string(),
    state: z.enum(PARTICIPANT_STATES).openapi({
      description:
        "`ringing` (invited, every device rings), `joined` (in the call on one device), `left`, `rejected`, `missed` (did not " +
        "answer within 45 s, or the caller gave up) or `busy` (in another call, or their device said busy)",
    }),
    sessionId: z
      .string()
      .nullable()
      .openapi({ description: "While joined: the session (device) the call is bound to, where signaling to them goes" }),
    joinedAt: z.string().nullable(),
    leftAt: z.string().nullable(),
  })
  .openapi("CallParticipant");

export const Call = z
  .object({
    id: z.uuid(),
    chatId: z.uuid(),
    callerId: z.string(),
    kind: z.enum(CALL_KINDS),
    media: z.enum(CALL_MEDIA).openapi({ description: "`mesh`: peer to peer (up to 8 people); `sfu`: through the SFU" }),
    status: z.enum(CALL_STATUSES).openapi({
      description:
        "`ringing`, `active` once answered, then `ended`; never answered: `missed`, `rejected` (declined) or `busy` (everyone was busy)",
    }),
    participants: z.array(CallParticipant).openapi({ description: "The caller first" }),
    startedAt: z.string(),
    ringUntil: z.string().openapi({ description: "When callees who have not answered stop ringing (45 s after the start)" }),
    answeredAt: z.string().nullable(),
    endedAt: z.string().nullable(),
    durationSeconds: z.number().int().openapi({ description: "From the first answer to the end (0 if never answered)" }),
  })
  .openapi("Call");

export const IceServer = z
  .object({
    urls: z.array(z.string()),
    username: z.string().optional().openapi({ description: "TURN only: `<expiry unix seconds>:<user id>`" }),
    credential: z.string().optional().openapi({ description: "TURN only: base64 HMAC-SHA1 of the username under the TURN secret" }),
  })
  .openapi("IceServer", { description: "An entry of RTCConfiguration.iceServers" });

const IceFields = {
  iceServers: z.array(IceServer),
  turnExpiresAt: z.string().openapi({ description: "When the TURN credentials stop working: fetch fresh ones before" }),
};

export const CallWithIce = z.object({ call: Call, ...IceFields }).openapi("CallWithIceServers");
export const CallResponse = z.object({ call: Call }).openapi("CallResponse");
export const IceServersResponse = z.object(IceFields).openapi("IceServersResponse");
export const CallPage = z.object({ items: z.array(Call), nextCursor: z.string().nullable() }).openapi("CallPage");
