import { z } from "@hono/zod-openapi";
import { Username } from "../auth/schemas";
import { DisplayName } from "./schemas";

/** Bots as the API shows them to whoever manages them: their owner (/bots) or the app's backend (/platform/bots). */
export const Bot = z
  .object({
    id: z.uuid().openapi({ description: 'The bot\'s user id (its profile has `kind: "bot"`)' }),
    username: z.string(),
    displayName: z.string(),
    ownerId: z.uuid().nullable().openapi({ description: "Null for bots the app's backend made" }),
    createdAt: z.string(),
    tokenCreatedAt: z.string().openapi({ description: "When the current token was made" }),
  })
  .openapi("Bot");
export const BotWithToken = z
  .object({
    bot: Bot,
    token: z.string().openapi({
      description: "`<bot id>:<43 base64url characters>`, shown this once; send it as `Authorization: Bot <token>`",
    }),
  })
  .openapi("BotWithToken");
export const CreateBotBody = z.strictObject({ username: Username, displayName: DisplayName }).openapi("CreateBotRequest");
export const BotIdParam = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });
