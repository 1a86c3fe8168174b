import { z } from "@hono/zod-openapi";
import { MAX_SDP_LENGTH } from "../hubs/protocol";

/** The request and answer shapes of the SFU routes (Cloudflare Realtime's, passed through). */

export const SfuSessionParam = z.object({
  callId: z.uuid().openapi({ param: { name: "callId", in: "path" } }),
  sfuSessionId: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[\w-]+$/)
    .openapi({ param: { name: "sfuSessionId", in: "path" } }),
});

const SessionDescription = z
  .strictObject({ type: z.enum(["offer", "answer"]), sdp: z.string().min(1).max(MAX_SDP_LENGTH) })
  .openapi("SfuSessionDescription");
const Name = z.string().min(1).max(128);

export const NewSfuSessionBody = z
  .strictObject({ sessionDescription: SessionDescription.optional() })
  .openapi("NewSfuSessionRequest", { description: "Optionally an offer, negotiated at once" });

export const SfuTracksBody = z
  .strictObject({
    sessionDescription: SessionDescription.optional(),
    tracks: z
      .array(
        z.discriminatedUnion("location", [
          z.strictObject({ location: z.literal("local"), mid: z.string().min(1).max(64), trackName: Name }),
          z.strictObject({ location: z.literal("remote"), sessionId: Name, trackName: Name, mid: z.string().min(1).max(64).optional() }),
        ]),
      )
      .min(1)
      .max(64),
  })
  .openapi("SfuTracksRequest", {
    description:
      "Publish this session's tracks (`local`, with the offer) and/or receive tracks other people in the call published (`remote`)",
  });

export const SfuRenegotiateBody = z.strictObject({ sessionDescription: SessionDescription }).openapi("SfuRenegotiateRequest");

export const SfuSessionAnswer = z
  .object({ sessionId: z.string(), sessionDescription: SessionDescription.optional() })
  .openapi("SfuSession", { description: "A session on the SFU (one WebRTC connection of this device)" });

export const SfuTracksAnswer = z
  .object({
    requiresImmediateRenegotiation: z.boolean().optional(),
    sessionDescription: SessionDescription.optional(),
    tracks: z.array(z.record(z.string(), z.unknown())).optional(),
  })
  .openapi("SfuTracksAnswer", { description: "The SFU's answer, as it gave it" });

export const SfuRenegotiateAnswer = z.record(z.string(), z.unknown()).openapi("SfuRenegotiateAnswer");

export const PublishedTracks = z
  .object({ tracks: z.array(z.object({ userId: z.string(), sessionId: z.string(), trackName: z.string() })) })
  .openapi("SfuPublishedTracks");
