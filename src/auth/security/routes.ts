import { createRoute } from "@hono/zod-openapi";
import { errorResponses, json, newRouter, noContent, userSecurity } from "../../lib/openapi";
import { requestInfo } from "../../lib/request-info";
import { blockDevice, trustDevice, unblockDevice, untrustDevice } from "../devices";
import { requireAuth } from "../middleware";
import { listEvents } from "../security-events";
import * as s from "./schemas";

const tags = ["Security"];
// Sessions, passwords, 2FA, devices, keys and push targets belong to people: bot tokens get `403 bot_not_allowed`.
const auth = requireAuth({ allowBots: false });
const app = newRouter();

/** The shared shape of the four device actions: bearer auth, `:id` validated, 204 on success. */
const deviceAction = (
  action: "trust" | "untrust" | "block" | "unblock",
  summary: string,
  description: string,
  errors: Parameters<typeof errorResponses>,
) =>
  createRoute({
    method: "post",
    path: `/devices/{id}/${action}`,
    operationId: `${action}Device`,
    tags,
    summary,
    description,
    security: userSecurity,
    middleware: [auth] as const,
    request: { params: s.DeviceIdParam },
    responses: { ...noContent, ...errorResponses(...errors, 403) },
  });

app.openapi(
  deviceAction(
    "trust",
    "Mark one of my devices as trusted",
    "Records `device_trusted`. Trusting a trusted device again changes nothing. A blocked device must be unblocked " +
      "first (`409 device_blocked`). Another user's device, or an unknown id, is `404 not_found`.",
    [400, 401, 404, 409, 503],
  ),
  async (c) => {
    await trustDevice(c.var.db, c.var.auth.userId, c.req.valid("param").id, requestInfo(c));
    return c.body(null, 204);
  },
);

app.openapi(
  deviceAction(
    "untrust",
    "Withdraw trust from one of my devices",
    "Records `device_untrusted`. Untrusting an untrusted device changes nothing. Another user's device, or an unknown " +
      "id, is `404 not_found`.",
    [400, 401, 404, 503],
  ),
  async (c) => {
    await untrustDevice(c.var.db, c.var.auth.userId, c.req.valid("param").id, requestInfo(c));
    return c.body(null, 204);
  },
);

app.openapi(
  deviceAction(
    "block",
    "Block one of my devices and end its sessions",
    "Every live session on the device ends at once (its access tokens answer `401 session_revoked`, its refresh " +
      "tokens stop working), the device loses trust, and signing in from it answers `403 device_blocked` until it " +
      "is unblocked. Records `device_blocked`. The device of the calling session cannot be blocked " +
      "(`400 cannot_block_current_device`). Another user's device, or an unknown id, is `404 not_found`.",
    [400, 401, 404, 503],
  ),
  async (c) => {
    await blockDevice(c.var.db, c.env, c.var.auth, c.req.valid("param").id, requestInfo(c));
    return c.body(null, 204);
  },
);

app.openapi(
  deviceAction(
    "unblock",
    "Unblock one of my devices",
    "The device may sign in again (it stays untrusted; sessions ended by the block stay ended). Records " +
      "`device_unblocked`. Unblocking a device that is not blocked changes nothing. Another user's device, or an " +
      "unknown id, is `404 not_found`.",
    [400, 401, 404, 503],
  ),
  async (c) => {
    await unblockDevice(c.var.db, c.var.auth.userId, c.req.valid("param").id, requestInfo(c));
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/security-events",
    operationId: "listSecurityEvents",
    tags,
    summary: "My account's security log, newest first",
    description:
      "Sign-ins (`account_created`, `login`, `login_new_device`, `login_new_country`, `login_blocked_device`), " +
      "password changes and resets, 2FA changes, device changes (`device_trusted`, `device_untrusted`, " +
      "`device_blocked`, `device_unblocked`), verifications and refresh-token reuse. Keyset-paginated: pass " +
      "`nextCursor` back as `?cursor=`; a cursor from elsewhere is `400 invalid_cursor`.",
    security: userSecurity,
    middleware: [auth] as const,
    request: { query: s.SecurityEventsQuery },
    responses: { 200: json(s.SecurityEventPage), ...errorResponses(400, 401, 403, 503) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listEvents(c.var.db, c.var.auth.userId, limit, cursor), 200);
  },
);

export default app;
