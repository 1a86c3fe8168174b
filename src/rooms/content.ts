import { z } from "@hono/zod-openapi";
import { base64Field } from "../lib/base64";
import { AppError } from "../lib/errors";
import { closesAtProblem, PollInputSchema } from "./poll-input";
import { type Attachment, type JsonObject, MEDIA_TYPES, type MessageType, SENDABLE_TYPES, type SendInput } from "./types";

/**
 * What a message may carry, validated once for both ways of sending (REST `POST …/messages` and
 * the socket's `message.send`), and the rules for which fields fit which type.
 */

/** Longest text or caption, in UTF-16 code units. */
export const MAX_TEXT_LENGTH = 4096;
export const MAX_ATTACHMENTS = 10;
export const MAX_MENTIONS = 50;
export const MAX_METADATA_BYTES = 4096;

/** Mention everyone in the chat (owners and admins only). */
export const MENTION_ALL = "all";

const byteLength = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).byteLength;

/** Custom JSON from the client: an object of at most 4 KiB serialized, stored and returned as is. */
export const Metadata = z
  // Values are JSON already (they arrive in a JSON body or frame); z.json() would recurse in the OpenAPI document.
  .record(z.string().max(64), z.unknown())
  .refine((v) => byteLength(v) <= MAX_METADATA_BYTES, `metadata is limited to ${MAX_METADATA_BYTES} bytes of JSON`)
  .openapi({
    description: `Your own JSON object (≤ ${MAX_METADATA_BYTES} bytes serialized), returned as stored and never interpreted`,
  }) as unknown as z.ZodType<JsonObject>;

export const GeoLocationSchema = z
  .strictObject({
    lat: z.number().min(-90).max(90),
    lng: z.number().min(-180).max(180),
    accuracy: z.number().min(0).max(100_000).optional().openapi({ description: "Metres" }),
    liveUntil: z.iso
      .datetime()
      .optional()
      .openapi({ description: "A live location, updated by edits until this time (at most 24 h ahead)" }),
  })
  .openapi("GeoLocation");

export const SharedContactSchema = z
  .strictObject({
    userId: z.uuid().optional(),
    name: z.string().trim().min(1).max(128).optional(),
    phone: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, "phone must be in E.164 form, e.g. +14155550123")
      .optional(),
    email: z.email().max(254).optional(),
  })
  .refine((c) => c.userId !== undefined || (c.name !== undefined && (c.phone !== undefined || c.email !== undefined)), {
    message: "A contact is a userId, or a name with a phone and/or email",
  })
  .openapi("SharedContact");

const MessageText = z
  .string()
  .trim()
  .min(1)
  .max(MAX_TEXT_LENGTH)
  .openapi({ description: `1–${MAX_TEXT_LENGTH} characters after trimming: the text, or a media message's caption` });

/** Largest encrypted blob: `ciphertext`, and each envelope's `body` (bytes, before base64). */
export const MAX_CIPHERTEXT_BYTES = 64 * 1024;
/** Most envelopes one send may carry: every device (6 per account) of every member of a full group (1,000). */
export const MAX_ENVELOPES = 6000;

const Envelope = z
  .strictObject({
    userId: z.uuid(),
    deviceId: z.number().int().min(1).max(0xffff).openapi({ description: "The recipient's key device (GET /keys/{userId}/devices)" }),
    registrationId: z.number().int().min(1).max(16380).openapi({ description: "The registration id the envelope was encrypted for" }),
    type: z.number().int().min(0).max(255).openapi({
      description: "libsignal's CiphertextMessageType (2 whisper, 3 prekey, 7 sender key, 8 plaintext); passed through",
    }),
    body: base64Field(MAX_CIPHERTEXT_BYTES, `The ciphertext for this device, standard base64 (1–${MAX_CIPHERTEXT_BYTES} bytes)`, 1),
  })
  .openapi("EnvelopeInput");

/** The shortest and longest time a disappearing message may live (seconds). */
export const MIN_TTL_SECONDS = 5;
export const MAX_TTL_SECONDS = 366 * 24 * 60 * 60;

/** The fields of a send, besides the idempotency key: shared by the REST body and the socket frame. */
export const SendContentFields = {
  type: z.enum(SENDABLE_TYPES).default("text").openapi({ description: "What the message is; media types need attachments" }),
  text: MessageText.optional(),
  attachments: z
    .array(z.uuid())
    .min(1)
    .max(MAX_ATTACHMENTS)
    .optional()
    .openapi({ description: "Media ids you uploaded with purpose=attachment; they must fit the type" }),
  location: GeoLocationSchema.optional(),
  contact: SharedContactSchema.optional(),
  replyToId: z.uuid().optional().openapi({ description: "Reply to a message of this chat (it gets a thread)" }),
  quoteId: z.uuid().optional().openapi({ description: "Quote a message of this chat (a snapshot of its text is kept)" }),
  mentions: z
    .array(z.union([z.uuid(), z.literal(MENTION_ALL)]))
    .max(MAX_MENTIONS)
    .optional()
    .openapi({ description: 'Member ids, or "all" (owners and admins)' }),
  silent: z.boolean().optional().openapi({ description: "Deliver without notifying the recipients" }),
  metadata: Metadata.optional(),
  poll: PollInputSchema.optional().openapi({ description: "Type `poll` only: the question and its options" }),
  ttlSeconds: z
    .number()
    .int()
    .min(MIN_TTL_SECONDS)
    .max(MAX_TTL_SECONDS)
    .optional()
    .openapi({
      description: `Disappearing: erased this many seconds after it is sent (${MIN_TTL_SECONDS}–${MAX_TTL_SECONDS}; overrides the chat's setting)`,
    }),
  ciphertext: base64Field(
    MAX_CIPHERTEXT_BYTES,
    `Type encrypted: one opaque blob for every member (e.g. a sender-key message), standard base64, 1–${MAX_CIPHERTEXT_BYTES} bytes`,
    1,
  ).optional(),
  envelopes: z
    .array(Envelope)
    .min(1)
    .max(MAX_ENVELOPES)
    .refine((list) => new Set(list.map((e) => `${e.userId}:${e.deviceId}`)).size === list.length, "One envelope per device")
    .optional()
    .openapi({
      description:
        "Type encrypted: one envelope per device of every member (your other devices included, not the one sending); " +
        "each device receives only its own",
    }),
  scheduledAt: z.iso
    .datetime({ offset: true })
    .optional()
    .openapi({ description: "Send at this time instead of now (in the future, at most a year ahead): the message is scheduled" }),
};

/** An edit: new text (or caption), or a live location's new position (REST PATCH body and the `message.edit` frame). */
export const EditFields = {
  text: MessageText.optional().openapi({ description: "New text, or a media message's new caption" }),
  location: GeoLocationSchema.omit({ liveUntil: true }).optional().openapi({ description: "A live location's new position" }),
};
/** An edit changes something. */
export const editChangesSomething = (edit: { text?: string; location?: unknown }) => edit.text !== undefined || edit.location !== undefined;

/** A draft (REST PUT body and the `draft.set` frame). */
export const DraftFields = {
  text: z.string().max(MAX_TEXT_LENGTH).openapi({ description: "What I have typed so far (may be empty)" }),
  replyToId: z.uuid().optional().openapi({ description: "The message I am replying to" }),
};

type ContentFields = Omit<
  SendInput,
  "userId" | "clientMessageId" | "storyReply" | "forwardedFrom" | "forwardedAttachments" | "senderDeviceId"
>;

/** Which fields each type takes: what it needs, and what it must not have. */
const TYPE_RULES: Record<Exclude<MessageType, "system">, { needs: (keyof ContentFields)[]; refuses: (keyof ContentFields)[] }> = {
  text: { needs: ["text"], refuses: ["attachments", "location", "contact"] },
  image: { needs: ["attachments"], refuses: ["location", "contact"] },
  video: { needs: ["attachments"], refuses: ["location", "contact"] },
  voice: { needs: ["attachments"], refuses: ["location", "contact"] },
  file: { needs: ["attachments"], refuses: ["location", "contact"] },
  sticker: { needs: ["attachments"], refuses: ["text", "location", "contact"] },
  location: { needs: ["location"], refuses: ["text", "attachments", "contact"] },
  contact: { needs: ["contact"], refuses: ["text", "attachments", "location"] },
  poll: { needs: ["poll"], refuses: ["text", "attachments", "location", "contact"] },
  // What it says is inside the ciphertext: nothing readable travels beside it.
  encrypted: { needs: [], refuses: ["text", "location", "contact", "poll", "quoteId", "metadata", "mentions"] },
};

/** Fields only an encrypted message carries. */
const ENCRYPTED_FIELDS = ["ciphertext", "envelopes"] as const;

/** At most this many attachments per type (albums of images, videos and files; one voice note or sticker). */
const ATTACHMENT_LIMITS: Record<string, number> = { voice: 1, sticker: 1 };

/**
 * The type rules as a zod refinement, so REST bodies and socket frames report them like any
 * other validation problem (`400 validation_failed`, the field in `details[].path`).
 */
export function refineContent(input: ContentFields, ctx: z.RefinementCtx): void {
  try {
    checkContentShape(input);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    const path = ((err.details as { path: string }[])[0]?.path ?? "type").split(".");
    ctx.addIssue({ code: "custom", message: err.message, path });
  }
}

/** Check that the fields present fit the type (400 `invalid_content` with the offending field). */
export function checkContentShape(input: ContentFields): void {
  const rules = TYPE_RULES[input.type];
  for (const field of rules.needs) {
    if (input[field] === undefined) throw invalidContent(field, `A ${input.type} message needs ${field}`);
  }
  for (const field of rules.refuses) {
    if (input[field] !== undefined) throw invalidContent(field, `A ${input.type} message cannot have ${field}`);
  }
  if (input.type !== "poll" && input.poll !== undefined) throw invalidContent("poll", `A ${input.type} message cannot have poll`);
  if (input.type === "encrypted" && input.ciphertext === undefined && input.envelopes === undefined) {
    throw invalidContent("ciphertext", "An encrypted message needs ciphertext and/or envelopes");
  }
  for (const field of ENCRYPTED_FIELDS) {
    if (input.type !== "encrypted" && input[field] !== undefined)
      throw invalidContent(field, `A ${input.type} message cannot have ${field}`);
  }
  const closing = closesAtProblem(input.poll?.closesAt);
  if (closing) throw invalidContent("poll.closesAt", closing);
  const limit = ATTACHMENT_LIMITS[input.type];
  if (limit !== undefined && (input.attachments?.length ?? 0) > limit) {
    throw invalidContent("attachments", `A ${input.type} message carries exactly ${limit} attachment`);
  }
  const live = input.location?.liveUntil;
  if (live !== undefined) {
    const until = Date.parse(live);
    if (until <= Date.now() || until > Date.now() + 24 * 3600_000) {
      throw invalidContent("location.liveUntil", "liveUntil must be in the future, at most 24 hours ahead");
    }
  }
}

/** Whether a message type carries media (the `sendMedia` permission applies). */
export const isMediaType = (type: MessageType) => MEDIA_TYPES.includes(type);

/** MIME types each media type accepts (a file takes anything). */
const FITS: Record<string, (mime: string) => boolean> = {
  image: (m) => m.startsWith("image/"),
  video: (m) => m.startsWith("video/"),
  voice: (m) => m.startsWith("audio/") || m === "video/webm" || m === "video/ogg",
  file: () => true,
  // Encrypted files are opaque to the server (typically application/octet-stream).
  encrypted: () => true,
  sticker: (m) => ["image/webp", "image/png", "image/gif", "video/webm", "application/json"].includes(m),
};

/** Check that every attachment fits the message type (422 `attachment_type_mismatch`). */
export function checkAttachmentsFit(type: MessageType, attachments: readonly Attachment[]): void {
  const fits = FITS[type] ?? (() => false);
  for (const a of attachments) {
    if (!fits(a.mimeType)) {
      throw new AppError(422, "attachment_type_mismatch", `A ${type} message cannot carry ${a.mimeType}`, {
        mediaId: a.mediaId,
        mimeType: a.mimeType,
        type,
      });
    }
  }
}

function invalidContent(field: string, message: string): AppError {
  return new AppError(400, "validation_failed", message, [{ path: field, code: "invalid_content", message }]);
}
