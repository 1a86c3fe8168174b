import { app } from "./app";
import type { Bindings } from "./env";

export { CallRoom } from "./calls/call-room";
export { UserHub } from "./hubs/user-hub";
export { ChatRoom } from "./rooms/chat-room";
export { UploadSession } from "./uploads/upload-session";

// Cron and the queue consumers import their modules when they first run in an isolate, as the
// route groups do (src/app/route-groups.ts): an isolate that only serves rooms never loads them.
export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    const { runScheduled } = await import("./cron");
    ctx.waitUntil(runScheduled(controller, env));
  },
  async queue(batch, env) {
    const { consumeBatch } = await import("./app/queues");
    return consumeBatch(batch, env);
  },
} satisfies ExportedHandler<Bindings, unknown>;
