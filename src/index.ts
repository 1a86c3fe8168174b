import { app } from "./app";
import { runScheduled } from "./cron";
import type { Bindings } from "./env";
import type { PushJob } from "./hubs/notifications";
import { handlePushBatch } from "./push/consumer";

export { UserHub } from "./hubs/user-hub";
export { ChatRoom } from "./rooms/chat-room";
export { UploadSession } from "./uploads/upload-session";

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduled(controller, env));
  },
  async queue(batch, env) {
    await handlePushBatch(batch as MessageBatch<PushJob>, env);
  },
} satisfies ExportedHandler<Bindings, PushJob>;
