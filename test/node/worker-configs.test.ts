import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";

/**
 * The two Workers' configs agree (README "Two Workers"): the API Worker (wrangler.toml) binds the
 * realtime Worker's rooms, hubs and call rooms (wrangler.realtime.toml), which binds nothing of the
 * API's (so it deploys first), and what both read is the same in both: D1, KV, R2, the queues, the
 * compatibility date and the settings the objects read. Checked for local development and production.
 */

/** The parts of wrangler's normalized config read here. */
interface Config {
  name: string;
  compatibility_date?: string;
  workers_dev?: boolean;
  durable_objects: { bindings: { name: string; class_name: string; script_name?: string }[] };
  migrations: { new_sqlite_classes?: string[] }[];
  d1_databases: unknown[];
  kv_namespaces: unknown[];
  r2_buckets: unknown[];
  services?: unknown[];
  queues: { producers?: { binding: string; queue: string }[] };
  vars: Record<string, unknown>;
}

const REALTIME_CLASSES = { CHAT_ROOM: "ChatRoom", USER_HUB: "UserHub", CALL_ROOM: "CallRoom" };
/** Settings both Workers read: equal in both (or unset in both). */
const SHARED_VARS = ["ENVIRONMENT", "HUB_FANOUT_MAX_MEMBERS", "ICE_SERVERS", "TURN_CREDENTIAL_TTL_SECONDS"];
/** Settings only the rooms read: set on the API Worker alone they would do nothing. */
const ROOM_ONLY_VARS = ["BEFORE_SEND_URL", "BEFORE_SEND_TIMEOUT_MS", "BEFORE_SEND_FAILURE"];

const read = (config: string, env: string | undefined) => unstable_readConfig({ config, env }) as unknown as Config;
const producers = (c: Config) => Object.fromEntries((c.queues.producers ?? []).map((p) => [p.binding, p.queue]));

describe.each([
  ["local development", undefined],
  ["production", "production"],
])("the API and realtime Workers' configs, %s", (_label, env) => {
  const api = read("wrangler.toml", env);
  const realtime = read("wrangler.realtime.toml", env);

  it("bind the rooms, hubs and call rooms of the realtime Worker, which defines them with SQLite storage", () => {
    for (const [name, className] of Object.entries(REALTIME_CLASSES)) {
      const fromApi = api.durable_objects.bindings.find((b) => b.name === name);
      expect(fromApi).toEqual({ name, class_name: className, script_name: realtime.name });
      const own = realtime.durable_objects.bindings.find((b) => b.name === name);
      expect(own).toEqual({ name, class_name: className });
    }
    const created = realtime.migrations.flatMap((m) => m.new_sqlite_classes ?? []);
    expect(created.sort()).toEqual(Object.values(REALTIME_CLASSES).sort());
  });

  it("leave the realtime Worker with nothing bound in another Worker and no public address", () => {
    expect(realtime.durable_objects.bindings.filter((b) => b.script_name)).toEqual([]);
    expect(realtime.services ?? []).toEqual([]);
    expect(realtime.workers_dev).toBe(false);
  });

  it("share D1, KV, R2, the queues the objects produce to and the compatibility date", () => {
    expect(realtime.d1_databases).toEqual(api.d1_databases);
    expect(realtime.kv_namespaces).toEqual(api.kv_namespaces);
    expect(realtime.r2_buckets).toEqual(api.r2_buckets);
    const apiQueues = producers(api);
    for (const [binding, queue] of Object.entries(producers(realtime))) expect(apiQueues[binding]).toBe(queue);
    expect(Object.keys(producers(realtime)).sort()).toEqual(["EVENTS_QUEUE", "PUSH_QUEUE"]);
    expect(realtime.compatibility_date).toBe(api.compatibility_date);
  });

  it("give the rooms the same settings the API Worker has", () => {
    for (const key of SHARED_VARS) expect([key, realtime.vars[key]]).toEqual([key, api.vars[key]]);
    for (const key of ROOM_ONLY_VARS) if (api.vars[key] !== undefined) expect([key, realtime.vars[key]]).toEqual([key, api.vars[key]]);
  });
});
