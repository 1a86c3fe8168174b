import { z } from "@hono/zod-openapi";
import { jsonObjectSchema } from "../lib/json-object";

/** The preferences document (GET/PATCH /users/me/preferences) and what a PATCH may carry. */

export const CLIENT_PREFERENCES_MAX_BYTES = 4096;
export const THEMES = ["light", "dark", "system"] as const;

/** A trimmed name of 1–64 characters that `canonical` accepts, kept in the form it gives (`message` when it refuses). */
const canonicalName = (canonical: (name: string) => string | null, message: string) =>
  z
    .string()
    .trim()
    .min(1)
    .max(64)
    .superRefine((name, ctx) => {
      if (canonical(name) === null) ctx.addIssue({ code: "custom", message });
    })
    .transform((name) => canonical(name)!);

/** A BCP 47 language tag, kept in its canonical form (`en-us` → `en-US`). */
export const Language = canonicalName(canonicalLanguage, "Must be a BCP 47 language tag, e.g. en-US").openapi({
  description: "A BCP 47 language tag, stored in its canonical form (`en-us` becomes `en-US`)",
  example: "en-US",
});

/** The canonical form of a BCP 47 tag, or null when it is not one. */
function canonicalLanguage(tag: string): string | null {
  try {
    const [canonical] = Intl.getCanonicalLocales(tag);
    return canonical ?? null;
  } catch {
    return null;
  }
}

/** An IANA time zone name as the runtime's time zone database knows it; offsets like `+02:00` are not names. */
export const TimeZone = canonicalName(canonicalTimeZone, "Must be an IANA time zone, e.g. Europe/Paris").openapi({
  description: "An IANA time zone (checked with Intl.DateTimeFormat), stored as the runtime spells it",
  example: "Europe/Paris",
});

/** The time zone's name as Intl spells it (`europe/paris` → `Europe/Paris`), or null when it is no IANA zone. */
function canonicalTimeZone(name: string): string | null {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name)) return null;
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

export const Theme = z.enum(THEMES).openapi("Theme");

export const NotificationPreferences = z
  .object({
    previews: z.boolean().openapi({ description: "Sender name and message text in push notifications (never for encrypted chats)" }),
    direct: z.boolean().openapi({ description: "Direct chats notify" }),
    groups: z.boolean().openapi({ description: "Groups notify; when off, only mentions of me do" }),
  })
  .openapi("NotificationPreferences", { description: "What push notifications my devices get (a muted chat notifies only mentions)" });

const ClientPreferences = jsonObjectSchema(
  { maxBytes: CLIENT_PREFERENCES_MAX_BYTES },
  `The client's own settings: any JSON object of at most ${CLIENT_PREFERENCES_MAX_BYTES} bytes serialized, returned as stored`,
);

export const Preferences = z
  .object({
    version: z.number().int().min(0).openapi({ description: "0 until first saved; every change adds 1" }),
    language: z.string().nullable(),
    timeZone: z.string().nullable(),
    theme: Theme,
    notifications: NotificationPreferences,
    client: ClientPreferences,
    updatedAt: z.string().nullable().openapi({ description: "When they last changed; null until first saved" }),
  })
  .openapi("Preferences", {
    description:
      "My preferences, the same on all my devices. Defaults: language and timeZone null, theme `system`, every " +
      "notification on, client `{}`, version 0.",
  });

export const PreferencesPatch = z
  .strictObject({
    version: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).openapi({ description: "The version these changes were made from" }),
    language: Language.nullable().optional().openapi({ description: "null clears it" }),
    timeZone: TimeZone.nullable().optional().openapi({ description: "null clears it" }),
    theme: Theme.optional(),
    notifications: NotificationPreferences.partial()
      .strict()
      .refine((v) => Object.keys(v).length > 0, "Give at least one notification setting")
      .optional()
      .openapi({ description: "Partial: the settings left out keep their values" }),
    client: ClientPreferences.optional().openapi({ description: "Replaces the client's settings as a whole (send them all)" }),
  })
  .refine((v) => Object.keys(v).some((k) => k !== "version"), "Send at least one preference to change")
  .openapi("PreferencesPatch");
