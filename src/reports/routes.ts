import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { publishEvent } from "../lib/events";
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from "../lib/openapi";
import { enforceRateLimit } from "../lib/rate-limit";
import * as s from "./schemas";
import { createReport, reportView } from "./service";

const app = newRouter();

app.openapi(
  createRoute({
    method: "post",
    path: "/",
    operationId: "createReport",
    tags: ["Reports"],
    summary: "Report a user, chat, message or story to the moderators",
    description:
      "`reason` is one of a fixed list; `details` is free text up to 1,000 characters. `chatId` is required for " +
      "message reports. Reporting yourself is `400 cannot_report_self`; an unknown or deleted user `404 not_found`. " +
      "One open report per reporter and target: another one while it is open is `409 report_exists`. " +
      "A story must be one I can see now (`404 not_found` otherwise); chat and message ids are checked for shape only until " +
      "those features check them. Rate limit: 20 reports an hour.",
    security: bearerSecurity,
    middleware: [requireAuth()] as const,
    request: { body: jsonBody(s.CreateReportBody) },
    responses: {
      201: json(z.object({ report: s.Report }), "Report filed"),
      ...errorResponses(400, 401, 404, 409, 413, 415, 429, 503),
    },
  }),
  async (c) => {
    await enforceRateLimit(c, "report:user", c.var.auth.userId);
    const report = await createReport(c.var.db, c.var.auth.userId, c.req.valid("json"));
    const { id, reporterId, targetType, targetId, reason } = report;
    await publishEvent(c.env, "report.created", { reportId: id, reporterId, targetType, targetId, reason });
    return c.json({ report: reportView(report) }, 201);
  },
);

export default app;
