import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { isDevelopment } from "../lib/config";
import { AppError } from "../lib/errors";
import { errorResponses, json, newRouter, publicSecurity } from "../lib/openapi";
import { PageQuery } from "../lib/pagination";
import { readOutbox } from "../notify/outbox";

const app = newRouter();

/**
 * Outside development the dev routes do not exist: the same `404 not_found` as an unknown route,
 * answered before the query is even validated.
 */
const developmentOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!isDevelopment(c.env)) throw new AppError(404, "not_found", "No such route");
  await next();
};

/**
 * Recipients as stored: emails lower-cased, phones E.164. A `+` sent unencoded in a query string
 * arrives as a space, so a recipient of only digits gets its `+` back.
 */
const Recipient = z
  .string()
  .max(254)
  .transform((s) => {
    const t = s.trim();
    if (t.includes("@")) return t.toLowerCase();
    const digits = t.replace(/[\s\-().]/g, "");
    return /^\+?\d+$/.test(digits) ? `+${digits.replace(/^\+/, "")}` : t;
  });

const OutboxQuery = z.object({
  to: Recipient.optional().openapi({ description: "Only messages to this email address or phone", example: "alice@example.com" }),
  limit: PageQuery.shape.limit,
});

const OutboxMessage = z
  .object({
    id: z.string(),
    channel: z.enum(["email", "sms"]),
    to: z.string(),
    kind: z.string().openapi({ description: "`otp.login`, `otp.verify`, `password.reset`, `security.new_device`, …" }),
    subject: z.string(),
    text: z.string(),
    createdAt: z.string(),
  })
  .openapi("OutboxMessage");

app.openapi(
  createRoute({
    method: "get",
    path: "/outbox",
    operationId: "listDevOutbox",
    tags: ["Development"],
    summary: "Messages the development notifier captured (development only)",
    description:
      "With the `log` email/SMS provider (the development default) nothing is sent: every message lands here, newest " +
      "first. Answers `404 not_found` unless `ENVIRONMENT` is `development`.",
    security: publicSecurity,
    middleware: [developmentOnly] as const,
    request: { query: OutboxQuery },
    responses: { 200: json(z.object({ items: z.array(OutboxMessage) }), "Captured messages, newest first"), ...errorResponses(400, 404) },
  }),
  async (c) => {
    const { to, limit } = c.req.valid("query");
    return c.json({ items: await readOutbox(c.env.DB, to, limit) }, 200);
  },
);

export default app;
