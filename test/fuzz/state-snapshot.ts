import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { roomFor } from "../../src/rooms/client";

/**
 * What a rejected request must not change: every D1 table (row count and a hash of its rows) and
 * the SQLite storage of the rooms it touched. Left out, each for a reason:
 */
const SKIPPED_TABLES: Record<string, string> = {
  api_key_uses: "append-only log of API key calls (kept 90 days): a refused call is still a use",
  auth_failures: "failed sign-in counters for lockout: refusals are what they count",
  window_counters: "rate-limit windows: a refused request still spends the caller's budget",
  d1_migrations: "migration bookkeeping",
};
/** Columns that record when something was last used or seen: reading touches them. */
const SKIPPED_COLUMNS: Record<string, string[]> = {
  sessions: ["last_used_at"],
  user_devices: ["last_seen_at"],
  users: ["last_seen_at"],
  api_keys: ["last_used_at"],
};
/** Room tables that only cache or schedule (not stored facts). */
const SKIPPED_ROOM_TABLES = new Set(["_cf_KV", "_cf_METADATA", "sqlite_sequence"]);

/** `d1:<table>` or `room <chat>:<table>` → `<row count>:<hash of the rows>`. */
export type Snapshot = Map<string, string>;

const skippedTable = (name: string) =>
  name in SKIPPED_TABLES || name.startsWith("sqlite_") || name.startsWith("_cf_") || /_fts($|_)/.test(name);

let d1Tables: string[] | null = null;

async function digest(text: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text)));
  return Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Row count and hash of every D1 table that holds facts (see SKIPPED_TABLES). */
export async function snapshotD1(): Promise<Snapshot> {
  if (!d1Tables) {
    const rows = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all<{ name: string }>();
    d1Tables = rows.results.map((r) => r.name).filter((name) => !skippedTable(name));
  }
  const results = await env.DB.batch(d1Tables.map((table) => env.DB.prepare(`SELECT * FROM "${table}" ORDER BY rowid`)));
  const out: Snapshot = new Map();
  for (const [i, table] of d1Tables.entries()) {
    const skipped = SKIPPED_COLUMNS[table] ?? [];
    const rows = (results[i]!.results as Record<string, unknown>[]).map((row) => {
      for (const column of skipped) delete row[column];
      return row;
    });
    out.set(`d1:${table}`, `${rows.length}:${await digest(JSON.stringify(rows))}`);
  }
  return out;
}

/** Row count and hash of every table in a chat room's own SQLite storage. */
export async function snapshotRoom(chatId: string): Promise<Snapshot> {
  const tables = await runInDurableObject(roomFor(env, chatId), (_room, state) => {
    const sql = state.storage.sql;
    const names = sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .toArray()
      .map((r) => r.name)
      .filter((name) => !SKIPPED_ROOM_TABLES.has(name) && !/_fts($|_)/.test(name) && !name.startsWith("_cf_"));
    return names.map((name) => {
      const rows = sql.exec(`SELECT * FROM "${name}"`).toArray();
      return [name, rows.length, JSON.stringify(rows)] as const;
    });
  });
  const out: Snapshot = new Map();
  for (const [name, count, rows] of tables) out.set(`room ${chatId.slice(-6)}:${name}`, `${count}:${await digest(rows)}`);
  return out;
}

/**
 * A room's snapshot once it has stopped changing on its own (the summary flush and the hub feed
 * write their bookkeeping up to a second after a send): two snapshots `quietMs` apart that agree.
 */
export async function settledRoomSnapshot(chatId: string, quietMs = 400, maxMs = 5000): Promise<Snapshot> {
  const deadline = Date.now() + maxMs;
  let last = await snapshotRoom(chatId);
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, quietMs));
    const next = await snapshotRoom(chatId);
    if (!changedKeys(last, next).length) return next;
    last = next;
  }
  throw new Error(`room ${chatId} kept changing for ${maxMs} ms`);
}

/** D1 and the given rooms together. */
export async function snapshotState(chatIds: string[] = []): Promise<Snapshot> {
  const parts = await Promise.all([snapshotD1(), ...chatIds.map(snapshotRoom)]);
  return new Map(parts.flatMap((p) => [...p]));
}

/** The keys whose value differs between two snapshots (an empty list when nothing changed). */
export function changedKeys(before: Snapshot, after: Snapshot): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).sort();
}

/** Why each table or column is left out of snapshots (for the report). */
export const SNAPSHOT_EXCLUSIONS = { tables: SKIPPED_TABLES, columns: SKIPPED_COLUMNS };
