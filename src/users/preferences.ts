import { eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { userPreferences } from "../db/schema";
import type { Bindings } from "../env";
import { hubFor, publishToHubs } from "../hubs/client";
import { DEFAULT_PUSH_SETTINGS, type PushSettings } from "../hubs/push-targets";
import { AppError } from "../lib/errors";
import type { JsonObject } from "../lib/json-object";
import { iso, now } from "../lib/time";
import type { THEMES } from "./preference-schemas";

/**
 * A user's preferences, synced across their devices: one versioned document in D1
 * (`user_preferences`). Writes are optimistic: a PATCH names the version it was made from and
 * applies only while that is still the stored one, in one conditional statement, so of two writes
 * from the same version exactly one wins and the other is `409 version_conflict` with the current
 * document. D1 is the authority; the user's hub keeps a copy of `notifications` for push.
 */

export type Theme = (typeof THEMES)[number];

export interface PreferenceValues {
  language: string | null;
  timeZone: string | null;
  theme: Theme;
  notifications: PushSettings;
  client: JsonObject;
}

export interface PreferencesPatch {
  version: number;
  language?: string | null;
  timeZone?: string | null;
  theme?: Theme;
  notifications?: Partial<PushSettings>;
  client?: JsonObject;
}

interface Stored {
  values: PreferenceValues;
  version: number;
  updatedAt: number | null;
}

const DEFAULTS: PreferenceValues = {
  language: null,
  timeZone: null,
  theme: "system",
  notifications: DEFAULT_PUSH_SETTINGS,
  client: {},
};

/** The document as the API shows it. */
export const preferencesView = (s: Stored) => ({ version: s.version, ...s.values, updatedAt: iso(s.updatedAt) });
export type PreferencesDocument = ReturnType<typeof preferencesView>;

/** The stored document over the defaults (a value missing from an older document reads as its default). */
function fromRow(doc: string): PreferenceValues {
  const parsed = JSON.parse(doc) as Partial<PreferenceValues>;
  return { ...DEFAULTS, ...parsed, notifications: { ...DEFAULTS.notifications, ...parsed.notifications } };
}

/**
 * The user's preferences. Before the first save they are the defaults, except that notification
 * settings made before preferences existed (kept in the user's hub only) are read from there, so
 * nobody's notifications change under them.
 */
async function readPreferences(db: Database, env: Bindings, userId: string): Promise<Stored> {
  const [row] = await db.select().from(userPreferences).where(eq(userPreferences.userId, userId));
  if (row) return { values: fromRow(row.doc), version: row.version, updatedAt: row.updatedAt };
  return { values: { ...DEFAULTS, notifications: await hubNotifications(env, userId) }, version: 0, updatedAt: null };
}

async function hubNotifications(env: Bindings, userId: string): Promise<PushSettings> {
  try {
    return await hubFor(env, userId).pushSettings();
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "hub push settings unreadable", userId, error: String(err) }));
    return DEFAULT_PUSH_SETTINGS;
  }
}

/** My preferences (GET /users/me/preferences). */
export async function getPreferences(db: Database, env: Bindings, userId: string): Promise<PreferencesDocument> {
  return preferencesView(await readPreferences(db, env, userId));
}

const versionConflict = (current: Stored) =>
  new AppError(409, "version_conflict", `The preferences are at version ${current.version}: apply your change to them and send it again`, {
    current: preferencesView(current),
  });

/** `current` with the patch applied: notifications merge, everything else (client included) is replaced. */
function applyPatch(current: PreferenceValues, patch: PreferencesPatch): PreferenceValues {
  return {
    language: patch.language !== undefined ? patch.language : current.language,
    timeZone: patch.timeZone !== undefined ? patch.timeZone : current.timeZone,
    theme: patch.theme ?? current.theme,
    notifications: { ...current.notifications, ...patch.notifications },
    client: patch.client ?? current.client,
  };
}

const sameNotifications = (a: PushSettings, b: PushSettings) => a.previews === b.previews && a.direct === b.direct && a.groups === b.groups;

/**
 * Change my preferences (PATCH /users/me/preferences). `patch.version` must be the stored version
 * (else `409 version_conflict`, details `{current}`, nothing changes); success stores version + 1
 * and answers the new document. Then my devices hear `preferences.updated {version}` on their
 * realtime sockets, and my hub gets the new notification settings when they changed.
 */
export async function updatePreferences(
  db: Database,
  env: Bindings,
  userId: string,
  patch: PreferencesPatch,
): Promise<PreferencesDocument> {
  const current = await readPreferences(db, env, userId);
  if (patch.version !== current.version) throw versionConflict(current);
  const values = applyPatch(current.values, patch);
  const at = now();
  const version = patch.version + 1;
  const doc = JSON.stringify(values);
  // One statement decides between concurrent writers: no row yet inserts version 1 (only a write
  // made from version 0 gets here then); an existing row changes only while it holds the version read.
  const written = await db
    .insert(userPreferences)
    .values({ userId, doc, version, updatedAt: at })
    .onConflictDoUpdate({
      target: userPreferences.userId,
      set: { doc, version, updatedAt: at },
      setWhere: sql`${userPreferences.version} = ${patch.version}`,
    })
    .returning({ version: userPreferences.version });
  if (written.length === 0) throw versionConflict(await readPreferences(db, env, userId));

  const saved: Stored = { values, version, updatedAt: at };
  if (!sameNotifications(current.values.notifications, values.notifications)) {
    await tellHubNotifications(env, userId, values.notifications, version);
  }
  await publishToHubs(env, [userId], { type: "preferences.updated", version });
  return preferencesView(saved);
}

/**
 * Hand the new notification settings to the user's hub, which decides pushes with them (once
 * more if the first call fails; a failure after that is logged: the preferences are stored, and
 * the hub gets the settings with their next change). The version lets the hub ignore a call that
 * lost a race with a newer one.
 */
async function tellHubNotifications(env: Bindings, userId: string, notifications: PushSettings, version: number): Promise<void> {
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      await hubFor(env, userId).updatePushSettings(notifications, version);
      return;
    } catch (err) {
      if (attempt === 2)
        console.error(JSON.stringify({ level: "error", msg: "hub push settings not updated", userId, error: String(err) }));
    }
  }
}
