/**
 * The user's push targets, kept in their hub (per-user state, not a D1 table): one per device
 * that asked to be notified, a Web Push subscription or an FCM registration token, each bound to
 * the session that registered it. A session that ends takes its targets with it, so a signed-out
 * or revoked device is never notified again. The user's notification settings live here too: a copy
 * of the `notifications` of their preferences (D1, users/preferences.ts, the authority), which the
 * Worker sends after each change with the preferences' version.
 */

/** Targets one user may hold; registering one more drops the least recently registered. */
export const MAX_PUSH_TARGETS = 20;

/** A Web Push subscription (`PushSubscription.toJSON()` of a browser) or an FCM registration token. */
export type PushTargetInput = { kind: "webpush"; endpoint: string; p256dh: string; auth: string } | { kind: "fcm"; token: string };

/** A stored target. */
export type PushTarget = PushTargetInput & { id: string; sessionId: string; createdAt: number };

/** What the user chose to be notified of (defaults: everything, with previews). */
export interface PushSettings {
  /** Sender name and message text in notifications (never for encrypted chats). */
  previews: boolean;
  /** Direct chats notify (mentions aside, there are none there). */
  direct: boolean;
  /** Groups notify; off, only mentions of me do. */
  groups: boolean;
}

export const DEFAULT_PUSH_SETTINGS: PushSettings = { previews: true, direct: true, groups: true };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS push_targets (
  id TEXT PRIMARY KEY,
  address TEXT NOT NULL UNIQUE,
  session_id TEXT NOT NULL,
  target TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS push_targets_session_idx ON push_targets (session_id);
CREATE TABLE IF NOT EXISTS push_settings (k INTEGER PRIMARY KEY CHECK (k = 0), settings TEXT NOT NULL);
`;

/** Where a target is reached: the same subscription or token registered twice is one target. */
const addressOf = (t: PushTargetInput) => (t.kind === "webpush" ? `webpush:${t.endpoint}` : `fcm:${t.token}`);

export class PushTargets {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  /**
   * Register a target for `sessionId`. The same endpoint or token registered again (a browser
   * re-subscribing, a token handed to another session) moves to this session with new keys and
   * keeps its id. Answers the target and whether it is new.
   */
  add(sessionId: string, input: PushTargetInput, at: number): { target: PushTarget; created: boolean } {
    const address = addressOf(input);
    const existing = this.sql.exec<{ id: string }>("SELECT id FROM push_targets WHERE address = ?", address).toArray()[0];
    const target: PushTarget = { ...input, id: existing?.id ?? crypto.randomUUID(), sessionId, createdAt: at };
    this.sql.exec(
      `INSERT INTO push_targets (id, address, session_id, target, created_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (address) DO UPDATE SET session_id = excluded.session_id, target = excluded.target, created_at = excluded.created_at`,
      target.id,
      address,
      sessionId,
      JSON.stringify(input),
      at,
    );
    if (!existing) {
      this.sql.exec(
        "DELETE FROM push_targets WHERE id IN (SELECT id FROM push_targets ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?)",
        MAX_PUSH_TARGETS,
      );
    }
    return { target, created: !existing };
  }

  /** Every target, newest first. */
  list(): PushTarget[] {
    return this.sql
      .exec<{ id: string; session_id: string; target: string; created_at: number }>(
        "SELECT id, session_id, target, created_at FROM push_targets ORDER BY created_at DESC, id DESC",
      )
      .toArray()
      .map((r) => ({ ...(JSON.parse(r.target) as PushTargetInput), id: r.id, sessionId: r.session_id, createdAt: r.created_at }));
  }

  /** Forget a target; answers whether there was one. */
  remove(id: string): boolean {
    return this.sql.exec("DELETE FROM push_targets WHERE id = ?", id).rowsWritten > 0;
  }

  /** Forget the targets of sessions that ended (every target with `all`). */
  removeSessions(sessionIds: readonly string[], all = false): void {
    if (all) this.sql.exec("DELETE FROM push_targets");
    else for (const id of sessionIds) this.sql.exec("DELETE FROM push_targets WHERE session_id = ?", id);
  }

  settings(): PushSettings {
    const { version: _version, ...settings } = this.stored();
    return settings;
  }

  /**
   * Change some settings; answers them all. With `version` (of the preferences they come from), a
   * change older than the one already applied is ignored: two changes in a row whose calls race
   * leave the newer one.
   */
  updateSettings(patch: Partial<PushSettings>, version?: number): PushSettings {
    const stored = this.stored();
    if (version !== undefined && stored.version !== undefined && version < stored.version) return this.settings();
    const { version: previous, ...current } = stored;
    const next = { ...current, ...patch };
    this.sql.exec(
      "INSERT INTO push_settings (k, settings) VALUES (0, ?) ON CONFLICT (k) DO UPDATE SET settings = excluded.settings",
      JSON.stringify({ ...next, version: version ?? previous }),
    );
    return next;
  }

  /** The settings with the version of the preferences they came from (none before the first). */
  private stored(): PushSettings & { version?: number } {
    const row = this.sql.exec<{ settings: string }>("SELECT settings FROM push_settings").toArray()[0];
    return { ...DEFAULT_PUSH_SETTINGS, ...(row ? (JSON.parse(row.settings) as Partial<PushSettings> & { version?: number }) : {}) };
  }
}
