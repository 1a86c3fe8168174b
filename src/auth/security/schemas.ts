import { z } from "@hono/zod-openapi";
import { PageQuery } from "../../lib/pagination";
import { DeviceId } from "../schemas";
import { SECURITY_EVENT_TYPES } from "../security-events";

/** `:id` of a device route: the client-chosen device id (1–128 of `[A-Za-z0-9._:-]`). */
export const DeviceIdParam = z.object({
  id: DeviceId.openapi({
    param: { name: "id", in: "path" },
    example: "iphone-3f2a",
    description: "The device's id (see GET /auth/devices)",
  }),
});

export const SecurityEventsQuery = PageQuery;

export const SecurityEvent = z
  .object({
    id: z.string().openapi({ description: "UUIDv7; events sort by it" }),
    type: z.enum(SECURITY_EVENT_TYPES).openapi({ example: "login_new_device" }),
    deviceId: z.string().nullable().openapi({ description: "The device the event is about (signed in, blocked, …), if any" }),
    ip: z.string().nullable().openapi({ description: "Where the request that caused it came from" }),
    country: z.string().nullable().openapi({ example: "DE" }),
    userAgent: z.string().nullable(),
    details: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ description: "Type-specific facts, e.g. `{method, sessionId}` for logins, `{sessionsEnded}` for device_blocked" }),
    createdAt: z.string().openapi({ example: "2025-01-31T12:00:00.000Z" }),
  })
  .openapi("SecurityEvent");

export const SecurityEventPage = z
  .object({
    items: z.array(SecurityEvent),
    nextCursor: z.string().nullable().openapi({ description: "Pass as `?cursor=` for the next (older) page; null on the last page" }),
  })
  .openapi("SecurityEventPage");
