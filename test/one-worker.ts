/**
 * The realtime Worker's Durable Objects (wrangler.realtime.toml) bound in the API Worker instead,
 * for suites that run inside workerd on wrangler.toml alone (vitest.config.ts,
 * bench/rows-read/vitest.config.ts): wrangler.toml binds them by `script_name`, and the API Worker
 * still exports the classes, so `runInDurableObject` and per-file storage isolation reach them.
 * Pass as the plugin's `miniflare.durableObjects` (it replaces the bindings of the same names).
 */
export const REALTIME_OBJECTS_IN_ONE_WORKER = {
  CHAT_ROOM: { className: "ChatRoom", useSQLite: true },
  USER_HUB: { className: "UserHub", useSQLite: true },
  CALL_ROOM: { className: "CallRoom", useSQLite: true },
};
