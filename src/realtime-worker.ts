import { wireFeatures } from "./app/wiring";
import type { Bindings } from "./env";

/**
 * The realtime Worker (wrangler.realtime.toml): the per-chat rooms, the per-user hubs and the call
 * rooms, in isolates of their own. The API Worker (src/index.ts) reaches them through its
 * CHAT_ROOM, USER_HUB and CALL_ROOM bindings (`script_name`); nothing routes to this Worker itself,
 * so its fetch answers the standard 404. Its isolates load only the objects' code (and, on first
 * use, what the hooks and ports reach), not the API's routes and schemas: their heap stays small,
 * so each garbage collection, which stops every socket's delivery while it runs, stays short
 * (README, "Two Workers").
 */
export { CallRoom } from "./calls/call-room";
export { UserHub } from "./hubs/user-hub";
export { ChatRoom } from "./rooms/chat-room";

// The objects reach the modules above them (media, calls) through the ports wiring installs.
wireFeatures();

export default {
  fetch: () => Response.json({ error: { code: "not_found", message: "No such route", requestId: crypto.randomUUID() } }, { status: 404 }),
} satisfies ExportedHandler<Bindings>;
