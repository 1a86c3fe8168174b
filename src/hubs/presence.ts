import { and, eq, gt, inArray, ne, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import { createDb, type Database } from "../db/client";
import { blocks, contacts, users } from "../db/schema";
import { MINUTE } from "../lib/time";

/**
 * A user's presence, kept by their hub: online while any device holds a realtime socket. The hub
 * writes D1 only on transitions, coalesced: going online writes `online_until` (a lease) and
 * `last_seen_at`; the last socket closing starts a grace period, and only if no socket came back
 * by its end is the user written offline with `last_seen_at` = the moment the last socket closed.
 * A phone that drops and reconnects within the grace costs nothing and tells nobody. While online
 * the lease is renewed every half lease; a hub that lost its sockets without hearing them close
 * (a restart) lets it lapse, so profiles never show someone online forever.
 *
 * Each transition is told to the contacts who watch and may see it: users who have this user in
 * their contacts and hold a realtime socket themselves, as a live `presence` frame (not logged: a
 * reconnecting device reads presence from profiles). Those the `lastSeen` setting or a block hides
 * it from hear nothing of transitions (even an "offline" would time them); when a rule changes
 * (privacy, contacts, a block) they are told `online: false` with no time, once.
 */

/** The last socket's close waits this long before the user is written offline. */
export const OFFLINE_GRACE_MS = 15_000;
/** `online_until` runs this far ahead; it is renewed halfway. */
export const ONLINE_LEASE_MS = 10 * MINUTE;
/** At most this many watching contacts are told of one change (those online, in index order). */
export const PRESENCE_WATCHERS_MAX = 1_000;
/** A presence step that failed (D1 unreachable) is tried again this much later. */
const RETRY_AFTER_FAILURE_MS = 30_000;

/** One change in the live `presence {changes: [...]}` frame a watcher's devices get (the rooms' shape). */
export interface PresenceChange {
  userId: string;
  online: boolean;
  /** Present when the watcher may see it and the user went offline. */
  lastSeenAt?: string;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS presence (
  k INTEGER PRIMARY KEY CHECK (k = 0),
  user_id TEXT NOT NULL,
  online INTEGER NOT NULL DEFAULT 0,
  offline_since INTEGER,
  renew_at INTEGER
)`;

interface State {
  userId: string;
  /** What D1 says: the user was written online and not yet offline. */
  online: boolean;
  /** The last socket closed at this moment and none came back yet. */
  offlineSince: number | null;
  renewAt: number | null;
}

/** One watcher of a transition, and whether they may see it. */
export interface Watcher {
  userId: string;
  visible: boolean;
}

export class HubPresence {
  private state: State | null | undefined;
  /** Transitions run one at a time: D1 calls let other events of the hub interleave. */
  private chain: Promise<void> = Promise.resolve();
  /** Announcements too, in the order of the transitions, without holding the transition up. */
  private telling: Promise<void> = Promise.resolve();

  constructor(
    private readonly sql: SqlStorage,
    private readonly d1: D1Database,
    private readonly announce: (change: PresenceChange, watchers: Watcher[]) => Promise<void>,
  ) {
    sql.exec(SCHEMA);
  }

  /** The hub's user (first learned from a socket the Worker authenticated). */
  userId(): string | null {
    return this.load()?.userId ?? null;
  }

  /**
   * Bring D1 in line with `openSockets` at `at`: online when a socket is open, offline once the
   * grace after the last close ran out; renews the lease when due. Answers when to look again.
   * Never fails its caller (a socket opening, a session ending, the alarm): a D1 error is logged
   * and the step is tried again a little later.
   */
  reconcile(userId: string | null, openSockets: number, at: number): Promise<number | null> {
    const run = this.chain
      .then(() => this.step(userId, openSockets, at))
      .catch((err) => {
        console.error(JSON.stringify({ level: "error", msg: "presence write failed", userId, error: String(err) }));
        return at + RETRY_AFTER_FAILURE_MS;
      });
    this.chain = run.then(() => undefined);
    return run;
  }

  /**
   * Who may see this user changed (`concerning`: only these watchers, e.g. the other side of a new
   * contact or block; null: all, e.g. a privacy change). Those who now may see an online user are
   * told so; those who now may not are told `online: false`, so they drop what they were shown.
   */
  rulesChanged(concerning: readonly string[] | null): Promise<void> {
    const state = this.load();
    if (!state) return Promise.resolve();
    return this.tell(state.userId, { online: state.online, lastSeen: null, shown: state.online, hidden: true }, concerning);
  }

  /** When the hub should wake for presence (null: nothing pending). */
  nextDue(): number | null {
    const state = this.load();
    if (!state?.online) return null;
    return state.offlineSince !== null ? state.offlineSince + OFFLINE_GRACE_MS : state.renewAt;
  }

  private async step(userId: string | null, openSockets: number, at: number): Promise<number | null> {
    const stored = this.load();
    // A copy: memory and SQLite change only once D1 took the write.
    const state: State = stored ? { ...stored } : { userId: userId ?? "", online: false, offlineSince: null, renewAt: null };
    if (userId) state.userId = userId;
    if (!state.userId) return null;
    const db = createDb(this.d1);
    const alive = and(eq(users.id, state.userId), ne(users.status, "deleted"));
    if (openSockets > 0) {
      state.offlineSince = null;
      if (!state.online || (state.renewAt ?? 0) <= at) {
        const cameOnline = !state.online;
        await db
          .update(users)
          .set({ onlineUntil: at + ONLINE_LEASE_MS, lastSeenAt: at })
          .where(alive);
        state.online = true;
        state.renewAt = at + ONLINE_LEASE_MS / 2;
        this.save(state);
        // Transitions go to the watchers who may see them only: to the others even an
        // "offline" frame would say when this user connects.
        if (cameOnline) void this.tell(state.userId, { online: true, lastSeen: null, shown: true, hidden: false });
      } else this.save(state);
    } else if (state.online) {
      state.offlineSince ??= at;
      if (at >= state.offlineSince + OFFLINE_GRACE_MS) {
        const lastSeen = state.offlineSince;
        await db
          .update(users)
          .set({ onlineUntil: null, lastSeenAt: sql`max(coalesce(${users.lastSeenAt}, 0), ${lastSeen})` })
          .where(alive);
        state.online = false;
        state.offlineSince = null;
        state.renewAt = null;
        this.save(state);
        void this.tell(state.userId, { online: false, lastSeen, shown: true, hidden: false });
      } else this.save(state);
    } else this.save(state);
    return this.nextDue();
  }

  /**
   * Announce to the watchers (`concerning`: only these), after the announcements before it:
   * visible ones get the state when `shown`, hidden ones `online: false` when `hidden`. Failures
   * are logged.
   */
  private tell(
    userId: string,
    what: { online: boolean; lastSeen: number | null; shown: boolean; hidden: boolean },
    concerning: readonly string[] | null = null,
  ): Promise<void> {
    const change: PresenceChange = { userId, online: what.online };
    if (!what.online && what.lastSeen !== null) change.lastSeenAt = new Date(what.lastSeen).toISOString();
    this.telling = this.telling
      .then(async () => {
        const watchers = (await presenceWatchers(this.d1, userId, Date.now(), concerning)).filter((w) =>
          w.visible ? what.shown : what.hidden,
        );
        if (watchers.length > 0) await this.announce(change, watchers);
      })
      .catch((err) => console.error(JSON.stringify({ level: "error", msg: "presence announcement failed", userId, error: String(err) })));
    return this.telling;
  }

  private load(): State | null {
    if (this.state !== undefined) return this.state;
    const row = this.sql
      .exec<{ user_id: string; online: number; offline_since: number | null; renew_at: number | null }>("SELECT * FROM presence")
      .toArray()[0];
    this.state = row ? { userId: row.user_id, online: row.online === 1, offlineSince: row.offline_since, renewAt: row.renew_at } : null;
    return this.state;
  }

  private save(state: State): void {
    this.sql.exec(
      `INSERT INTO presence (k, user_id, online, offline_since, renew_at) VALUES (0, ?, ?, ?, ?)
       ON CONFLICT (k) DO UPDATE SET user_id = excluded.user_id, online = excluded.online,
         offline_since = excluded.offline_since, renew_at = excluded.renew_at`,
      state.userId,
      state.online ? 1 : 0,
      state.offlineSince,
      state.renewAt,
    );
    this.state = state;
  }
}

/**
 * The contacts watching `subjectId` (they have the subject in their contacts and are online now),
 * each judged by the subject's `lastSeen` setting (everyone; contacts: the subject has them too;
 * nobody) and blocks either way: the profile rule (users/visibility.ts), applied in one query on
 * the contacts index. A deleted subject is seen by nobody.
 */
export async function presenceWatchers(
  d1: D1Database,
  subjectId: string,
  at: number,
  only: readonly string[] | null = null,
): Promise<Watcher[]> {
  const db = createDb(d1);
  const [subjectRows, rows] = await db.batch([
    db.select({ audience: users.privacyLastSeen, status: users.status }).from(users).where(eq(users.id, subjectId)),
    watchersQuery(db, subjectId, at, only),
  ]);
  const subject = subjectRows[0];
  const audience = subject && subject.status !== "deleted" ? subject.audience : "nobody";
  return rows.map((r) => ({
    userId: r.userId,
    visible: !r.blocked && (audience === "everyone" || (audience === "contacts" && r.mutual === 1)),
  }));
}

/**
 * Online users with `subjectId` in their contacts (`only`: among these): a range of the contacts
 * index, each joined by primary key.
 */
export function watchersQuery(db: Database, subjectId: string, at: number, only: readonly string[] | null = null) {
  const watcher = alias(users, "watcher");
  const mutual = alias(contacts, "mutual");
  return db
    .select({
      userId: contacts.ownerId,
      mutual: sql<number>`${mutual.ownerId} IS NOT NULL`,
      blocked: sql<number>`EXISTS (SELECT 1 FROM ${blocks} WHERE (${blocks.blockerId} = ${subjectId} AND ${blocks.blockedId} = ${contacts.ownerId})
        OR (${blocks.blockerId} = ${contacts.ownerId} AND ${blocks.blockedId} = ${subjectId}))`,
    })
    .from(contacts)
    .innerJoin(watcher, eq(watcher.id, contacts.ownerId))
    .leftJoin(mutual, and(eq(mutual.ownerId, subjectId), eq(mutual.contactId, contacts.ownerId)))
    .where(and(eq(contacts.contactId, subjectId), gt(watcher.onlineUntil, at), only ? inArray(contacts.ownerId, [...only]) : undefined))
    .limit(PRESENCE_WATCHERS_MAX);
}
