import { z } from "@hono/zod-openapi";
import { PASSWORD_MAX } from "../auth/password-strength";
import { AccountKind, User, Username } from "../auth/schemas";
import { RecoveryCode, TotpCode } from "../auth/two-factor/schemas";
import { jsonObjectSchema } from "../lib/json-object";
import { orNull } from "../lib/openapi";
import { CONTROL_EXCEPT_NEWLINE_RE, CONTROL_RE } from "../lib/validate";
import { AccountAttributes, PublicAttributes } from "./attributes";

export const BIO_MAX = 500;
export const LINKS_MAX = 5;
export const STATUS_TEXT_MAX = 140;
export const STATUS_EMOJI_MAX = 16;
export const METADATA_MAX_BYTES = 4096;
export const METADATA_MAX_DEPTH = 4;
export const METADATA_KEY_MAX = 64;

const atLeastOneField = (value: Record<string, unknown>) => Object.values(value).some((v) => v !== undefined);

export const DisplayName = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .refine((s) => !CONTROL_RE.test(s), "Display name may not contain control characters")
  .openapi({ example: "Alice Liddell" });

export const Bio = z
  .string()
  .trim()
  .max(BIO_MAX, `Bio must be at most ${BIO_MAX} characters`)
  .refine((s) => !CONTROL_EXCEPT_NEWLINE_RE.test(s), "Bio may not contain control characters other than line breaks")
  .openapi({ description: `Up to ${BIO_MAX} characters; an empty bio clears it`, example: "Down the rabbit hole" });

export const Link = z
  .strictObject({
    title: z.string().trim().min(1).max(64).optional(),
    url: z.string().max(2048).pipe(z.httpUrl("Must be an http(s) URL")),
  })
  .openapi("ProfileLink");

const BIRTHDAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A real calendar date, year ≥ 1900, not after today anywhere on Earth (UTC+14). */
function birthdayProblem(s: string, at = Date.now()): string | null {
  const m = BIRTHDAY_RE.exec(s);
  if (!m) return "Birthday must be a date in the form YYYY-MM-DD";
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return "Birthday is not a real date";
  }
  if (year < 1900) return "Birthday must be in 1900 or later";
  const latestToday = new Date(at + 14 * 60 * 60 * 1000).toISOString().slice(0, 10);
  if (s > latestToday) return "Birthday cannot be in the future";
  return null;
}

export const Birthday = z
  .string()
  .superRefine((s, ctx) => {
    const problem = birthdayProblem(s);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .openapi({ description: "YYYY-MM-DD, a real date from 1900 on, not in the future", example: "1990-04-23" });

export const MediaId = z.uuid().openapi({
  description: "Id of an image I uploaded with purpose `avatar` (POST /media?purpose=avatar); its URL comes from GET /media/{id}",
});

const METADATA_TEXT =
  `The app's own JSON object about the user (≤ ${METADATA_MAX_BYTES} bytes serialized; keys 1–${METADATA_KEY_MAX} characters; ` +
  `nested at most ${METADATA_MAX_DEPTH} levels, the object itself being the first), returned exactly as stored. ` +
  "Public: anyone signed in who can see the profile sees it, so never put secrets or private data in it";

/** Custom metadata on a user, set by the user (PATCH /users/me) or an admin; public data the app controls. */
export const UserMetadata = jsonObjectSchema(
  { maxBytes: METADATA_MAX_BYTES, maxDepth: METADATA_MAX_DEPTH, maxKeyLength: METADATA_KEY_MAX },
  METADATA_TEXT,
);
/** The metadata as profiles show it: null when there is none. */
export const MetadataField = UserMetadata.nullable().openapi({ type: ["object", "null"], description: `${METADATA_TEXT}. Null: none` });

export const UpdateProfileBody = z
  .strictObject({
    displayName: DisplayName.optional(),
    bio: Bio.nullable().optional(),
    avatarMediaId: MediaId.nullable().optional(),
    links: z.array(Link).max(LINKS_MAX, `At most ${LINKS_MAX} links`).nullable().optional(),
    birthday: Birthday.nullable().optional(),
    metadata: MetadataField.optional().openapi({ description: "Replaces the metadata as a whole; null clears it" }),
  })
  .refine(atLeastOneField, "Send at least one field to change")
  .openapi("UpdateProfileRequest", { description: "Only the fields sent change; `null` clears an optional field" });

export const ChangeUsernameBody = z.strictObject({ username: Username }).openapi("ChangeUsernameRequest");

export const Audience = z.enum(["everyone", "contacts", "nobody"]).openapi("Audience", {
  description: "`contacts` = people the owner added to their contacts",
});

export const Privacy = z
  .object({
    lastSeen: Audience,
    profilePhoto: Audience,
    phone: Audience,
    email: Audience,
    groupInvites: Audience,
    calls: Audience,
    readReceipts: z.boolean(),
  })
  .openapi("PrivacySettings");

export const UpdatePrivacyBody = z
  .strictObject({
    lastSeen: Audience.optional(),
    profilePhoto: Audience.optional(),
    phone: Audience.optional(),
    email: Audience.optional(),
    groupInvites: Audience.optional(),
    calls: Audience.optional(),
    readReceipts: z.boolean().optional(),
  })
  .refine(atLeastOneField, "Send at least one setting to change")
  .openapi("UpdatePrivacyRequest", { description: "Partial: settings left out keep their values" });

const graphemes = (s: string): number => {
  const Segmenter = (Intl as { Segmenter?: typeof Intl.Segmenter }).Segmenter;
  return Segmenter ? [...new Segmenter(undefined, { granularity: "grapheme" }).segment(s)].length : [...s].length;
};
/** Pictographs, flags (regional indicators) and keycaps. */
const EMOJI_RE = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3/u;

export const StatusEmoji = z
  .string()
  .min(1)
  .max(STATUS_EMOJI_MAX)
  .refine((s) => graphemes(s) === 1 && EMOJI_RE.test(s) && !/\s/.test(s), "Emoji must be a single emoji")
  .openapi({ example: "🌴" });

export const SetStatusBody = z
  .strictObject({
    text: z
      .string()
      .trim()
      .min(1)
      .max(STATUS_TEXT_MAX)
      .refine((s) => !CONTROL_RE.test(s), "Status text may not contain control characters"),
    emoji: StatusEmoji.nullable().optional(),
    expiresAt: z.iso
      .datetime({ offset: true })
      .refine((s) => Date.parse(s) > Date.now(), "expiresAt must be in the future")
      .nullable()
      .optional()
      .openapi({ description: "ISO 8601; the status disappears then. Without it the status stays until replaced" }),
  })
  .openapi("SetStatusRequest");

export const Status = z
  .object({ text: z.string().nullable(), emoji: z.string().nullable(), expiresAt: z.string().nullable() })
  .openapi("Status", { description: "Null once expired" });

/** The password, and a second factor when 2FA is on: what deleting or deactivating the account takes. */
const OwnershipProofFields = {
  password: z
    .string()
    .min(1)
    .max(PASSWORD_MAX)
    .optional()
    .openapi({
      description:
        "Required when the account has a password (`400 validation_failed` without it). An account without one (made by a one-time code) " +
        "instead needs a session signed in within the last 10 minutes (`403 reauthentication_required`)",
    }),
  code: TotpCode.optional().openapi({ description: "Required (or `recoveryCode`) when two-factor authentication is on" }),
  recoveryCode: RecoveryCode.optional(),
};

export const DeleteAccountBody = z.strictObject(OwnershipProofFields).openapi("DeleteAccountRequest");
export const DeactivateAccountBody = z.strictObject(OwnershipProofFields).openapi("DeactivateAccountRequest");

export const OwnProfile = User.extend({
  bio: z.string().nullable(),
  avatarMediaId: z.string().nullable(),
  links: z.array(Link),
  birthday: z.string().nullable(),
  status: orNull(Status),
  referralCode: z.string().nullable().openapi({ description: "8 characters; share it, others send it as `referredBy` on register" }),
  referredBy: z.string().nullable().openapi({ description: "Id of the account whose referral code this one registered with" }),
  followersCount: z.number().int(),
  followingCount: z.number().int(),
  privacy: Privacy,
  ...AccountAttributes,
  metadata: MetadataField,
  profileCompletion: z
    .number()
    .int()
    .min(0)
    .max(100)
    .openapi({
      description:
        "Weighted share of a complete profile: avatar 25, bio 20, display name other than the username 15, " +
        "email or phone 20, birthday 10, at least one link 10",
    }),
}).openapi("OwnProfile");

export const PublicProfile = z
  .object({
    id: z.string(),
    username: z.string(),
    displayName: z.string(),
    kind: AccountKind,
    bio: z.string().nullable(),
    links: z.array(Link),
    status: orNull(Status),
    followersCount: z.number().int(),
    followingCount: z.number().int(),
    isContact: z.boolean().openapi({ description: "I have this user in my contacts" }),
    isFollowing: z.boolean(),
    isBlocked: z.boolean().openapi({ description: "I blocked this user" }),
    ...PublicAttributes,
    metadata: MetadataField,
    createdAt: z.string(),
    avatarMediaId: z.string().nullable().optional().openapi({ description: "Omitted when the owner's profilePhoto setting hides it" }),
    lastSeenAt: z.string().nullable().optional().openapi({ description: "Omitted when the owner's lastSeen setting hides it" }),
    online: z.boolean().optional().openapi({ description: "Omitted with lastSeenAt" }),
    phone: z.string().optional().openapi({ description: "Present only when set and the owner's phone setting allows" }),
    email: z.string().optional().openapi({ description: "Present only when set and the owner's email setting allows" }),
    birthday: z.string().optional().openapi({ description: "Present only when set and the owner has me in their contacts" }),
  })
  .openapi("PublicProfile", {
    description:
      "A profile as the caller may see it. A field the owner's privacy settings withhold is omitted, never faked. " +
      "An owner who blocked the caller shows no photo, last seen or online state.",
  });

export const UserIdParam = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });
export const UsernameParam = z.object({ username: Username.openapi({ param: { name: "username", in: "path" } }) });
