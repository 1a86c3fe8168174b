/**
 * Who may see whom online in a room: the `lastSeen` privacy setting (everyone / contacts /
 * nobody, exactly as profiles apply it) and blocks in either direction. The room keeps one rule
 * per user with a live socket, loaded from D1 when their first socket opens, reloaded when the
 * user's hub says their privacy, contacts or blocks changed, and dropped when they go offline.
 * Rules live in the room's SQLite (so a hibernated room wakes with them) and in a parsed cache.
 */
export type LastSeenAudience = "everyone" | "contacts" | "nobody";

/** One user's presence rule, restricted to people who were members when it was loaded. */
export interface PresenceRule {
  audience: LastSeenAudience;
  /** Members this user has in their contacts (they may see the user under `contacts`). */
  contacts: string[];
  /** Members who have this user in their contacts. */
  contactOf: string[];
  /** Members this user blocked or who blocked this user. */
  blocked: string[];
}

interface ParsedRule {
  audience: LastSeenAudience;
  contacts: Set<string>;
  contactOf: Set<string>;
  blocked: Set<string>;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS presence_rules (user_id TEXT PRIMARY KEY, rule TEXT NOT NULL)`;

export class PresenceRules {
  private readonly cache = new Map<string, ParsedRule | null>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  has(userId: string): boolean {
    return this.get(userId) !== null;
  }

  set(userId: string, rule: PresenceRule): void {
    this.sql.exec(
      "INSERT INTO presence_rules (user_id, rule) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET rule = excluded.rule",
      userId,
      JSON.stringify(rule),
    );
    this.cache.set(userId, parse(rule));
  }

  /** Forget a user's rule (they went offline); returns whether there was one. */
  delete(userId: string): boolean {
    this.cache.set(userId, null);
    return this.sql.exec("DELETE FROM presence_rules WHERE user_id = ?", userId).rowsWritten > 0;
  }

  /**
   * Whether `viewerId` may see `subjectId` online. A pair is judged on both users' rules, since
   * either may have been loaded before the other joined the chat; a block on either side hides,
   * and a user whose rule is unknown is hidden (fail closed).
   */
  visible(subjectId: string, viewerId: string): boolean {
    if (subjectId === viewerId) return true;
    const subject = this.get(subjectId);
    if (!subject) return false;
    const viewer = this.get(viewerId);
    if (subject.blocked.has(viewerId) || viewer?.blocked.has(subjectId)) return false;
    if (subject.audience === "everyone") return true;
    if (subject.audience === "nobody") return false;
    return subject.contacts.has(viewerId) || (viewer?.contactOf.has(subjectId) ?? false);
  }

  private get(userId: string): ParsedRule | null {
    const cached = this.cache.get(userId);
    if (cached !== undefined) return cached;
    const row = this.sql.exec<{ rule: string }>("SELECT rule FROM presence_rules WHERE user_id = ?", userId).toArray()[0];
    const parsed = row ? parse(JSON.parse(row.rule) as PresenceRule) : null;
    this.cache.set(userId, parsed);
    return parsed;
  }
}

const parse = (rule: PresenceRule): ParsedRule => ({
  audience: rule.audience,
  contacts: new Set(rule.contacts),
  contactOf: new Set(rule.contactOf),
  blocked: new Set(rule.blocked),
});
