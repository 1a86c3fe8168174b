import { app } from "./app";
import { runScheduled } from "./cron";
import type { Bindings } from "./env";

export { UserHub } from "./hubs/user-hub";
export { ChatRoom } from "./rooms/chat-room";
export { UploadSession } from "./uploads/upload-session";

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduled(controller, env));
  },
} satisfies ExportedHandler<Bindings>;
