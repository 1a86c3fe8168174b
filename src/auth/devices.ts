import Bowser from "bowser";
import { and, desc, eq, inArray, not, or, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import { type DeviceRow, keyDevices, oneTimePreKeys, userDevices } from "../db/schema";
import type { AuthContext, Bindings } from "../env";
import { AppError, notFound } from "../lib/errors";
import type { RequestInfo } from "../lib/request-info";
import { iso } from "../lib/time";
import { recordEvent } from "./security-events";
import { revokeDeviceSessions, sessionDeviceId } from "./sessions";

/**
 * A readable platform from a user agent, e.g. "iOS 18.1 · Safari" or "Android · okhttp".
 * Native apps usually send their own agent (e.g. "MyChat/2.3 (iPhone; iOS 18.1)"); bowser reads
 * the OS from those too.
 */
export function platformFromUserAgent(userAgent: string | null): string | null {
  if (!userAgent) return null;
  const parsed = Bowser.parse(userAgent);
  const os = [parsed.os.name, parsed.os.versionName ?? parsed.os.version].filter(Boolean).join(" ");
  const browser = parsed.browser.name;
  const parts = [os, browser].filter(Boolean);
  return parts.length ? parts.join(" · ") : null;
}

/**
 * Record a sign-in from `deviceId`: insert the device on first sight, else refresh its last-seen
 * data. Returns the stored row and whether it was new to this account.
 */
export async function recordDevice(
  db: Database,
  userId: string,
  deviceId: string,
  deviceName: string | null,
  info: RequestInfo,
  at: number,
): Promise<{ device: DeviceRow; isNew: boolean }> {
  const platform = platformFromUserAgent(info.userAgent);
  const existing = await findDevice(db, userId, deviceId);
  if (!existing) {
    const [device] = await db
      .insert(userDevices)
      .values({
        userId,
        id: deviceId,
        name: deviceName,
        platform,
        userAgent: info.userAgent,
        firstSeenAt: at,
        lastSeenAt: at,
        lastIp: info.ip,
        lastCountry: info.country,
      })
      .onConflictDoUpdate({
        target: [userDevices.userId, userDevices.id],
        set: { lastSeenAt: at, lastIp: info.ip, lastCountry: info.country },
      })
      .returning();
    return { device: device!, isNew: true };
  }
  const [device] = await db
    .update(userDevices)
    .set({
      name: deviceName ?? existing.name,
      platform: platform ?? existing.platform,
      userAgent: info.userAgent ?? existing.userAgent,
      lastSeenAt: at,
      lastIp: info.ip ?? existing.lastIp,
      lastCountry: info.country ?? existing.lastCountry,
    })
    .where(and(eq(userDevices.userId, userId), eq(userDevices.id, deviceId)))
    .returning();
  return { device: device!, isNew: false };
}

/** One of the user's devices by its client-chosen id, or undefined (also for another user's device). */
export async function findDevice(db: Database, userId: string, deviceId: string): Promise<DeviceRow | undefined> {
  return db.query.userDevices.findFirst({
    where: and(eq(userDevices.userId, userId), eq(userDevices.id, deviceId)),
  });
}

/** The caller's devices, most recently seen first. */
export async function listDevices(db: Database, userId: string): Promise<DeviceRow[]> {
  return db.select().from(userDevices).where(eq(userDevices.userId, userId)).orderBy(desc(userDevices.lastSeenAt));
}

/** One of the caller's devices, or `404 not_found`: another user's device looks exactly like an unknown id. */
export async function getOwnDevice(db: Database, userId: string, deviceId: string): Promise<DeviceRow> {
  const device = await findDevice(db, userId, deviceId);
  if (!device) throw notFound("Device");
  return device;
}

/**
 * Set flags on one of the user's devices unless `skipIf` holds for it (already in that state, or
 * not allowed), so a repeated call changes nothing and records nothing. Returns the device as it
 * is now and whether this call changed it; `404 not_found` when the user has no such device.
 */
async function setDeviceFlags(
  db: Database,
  userId: string,
  deviceId: string,
  set: { trusted?: boolean; blocked?: boolean },
  skipIf: SQL,
): Promise<{ device: DeviceRow; changed: boolean }> {
  const [updated] = await db
    .update(userDevices)
    .set(set)
    .where(and(eq(userDevices.userId, userId), eq(userDevices.id, deviceId), not(skipIf)))
    .returning();
  if (updated) return { device: updated, changed: true };
  return { device: await getOwnDevice(db, userId, deviceId), changed: false };
}

/**
 * Mark one of the user's devices as trusted and record `device_trusted`. Idempotent (no second
 * event). A blocked device must be unblocked first: `409 device_blocked`. Unknown → `404 not_found`.
 */
export async function trustDevice(db: Database, userId: string, deviceId: string, info: RequestInfo): Promise<void> {
  const skipIf = or(eq(userDevices.trusted, true), eq(userDevices.blocked, true))!;
  const { device, changed } = await setDeviceFlags(db, userId, deviceId, { trusted: true }, skipIf);
  if (device.blocked) throw new AppError(409, "device_blocked", "This device is blocked; unblock it before trusting it");
  if (changed) await recordEvent(db, userId, "device_trusted", info, { deviceId });
}

/** Withdraw trust from one of the user's devices and record `device_untrusted`. Idempotent; unknown → `404 not_found`. */
export async function untrustDevice(db: Database, userId: string, deviceId: string, info: RequestInfo): Promise<void> {
  const { changed } = await setDeviceFlags(db, userId, deviceId, { trusted: false }, eq(userDevices.trusted, false));
  if (changed) await recordEvent(db, userId, "device_untrusted", info, { deviceId });
}

/**
 * Block one of the caller's devices: it loses trust, may no longer sign in (`403 device_blocked`
 * at login), and every live session on it ends at once (revoked with reason `device_blocked` and
 * deny-listed, so its access and refresh tokens stop working). Records `device_blocked` with the
 * number of sessions ended. The device of the caller's own session cannot be blocked
 * (`400 cannot_block_current_device`); unknown → `404 not_found`. Blocking again changes nothing.
 */
export async function blockDevice(
  db: Database,
  env: Bindings,
  auth: AuthContext,
  deviceId: string,
  info: RequestInfo,
): Promise<{ sessionsEnded: number }> {
  if ((await sessionDeviceId(db, auth.sessionId)) === deviceId) {
    throw new AppError(400, "cannot_block_current_device", "You cannot block the device you are using; block it from another device");
  }
  const { changed } = await setDeviceFlags(db, auth.userId, deviceId, { blocked: true, trusted: false }, eq(userDevices.blocked, true));
  // Also when it was already blocked: a sign-in racing the first block must not keep a session.
  const sessionsEnded = await revokeDeviceSessions(db, env, auth.userId, deviceId, "device_blocked");
  await dropDeviceKeys(db, auth.userId, deviceId);
  if (changed || sessionsEnded > 0) {
    await recordEvent(db, auth.userId, "device_blocked", info, { deviceId, details: { sessionsEnded } });
  }
  return { sessionsEnded };
}

/**
 * A blocked device's end-to-end keys go: nobody starts a session with it any more (its one-time
 * prekeys first, while the key device row still says which number it had).
 */
async function dropDeviceKeys(db: Database, userId: string, clientDeviceId: string): Promise<void> {
  const mine = and(eq(keyDevices.userId, userId), eq(keyDevices.clientDeviceId, clientDeviceId));
  const numbers = db.select({ deviceId: keyDevices.deviceId }).from(keyDevices).where(mine);
  await db.batch([
    db.delete(oneTimePreKeys).where(and(eq(oneTimePreKeys.userId, userId), inArray(oneTimePreKeys.deviceId, numbers))),
    db.delete(keyDevices).where(mine),
  ]);
}

/** Let a blocked device sign in again and record `device_unblocked`. It stays untrusted. Idempotent; unknown → `404 not_found`. */
export async function unblockDevice(db: Database, userId: string, deviceId: string, info: RequestInfo): Promise<void> {
  const { changed } = await setDeviceFlags(db, userId, deviceId, { blocked: false }, eq(userDevices.blocked, false));
  if (changed) await recordEvent(db, userId, "device_unblocked", info, { deviceId });
}

/** The API view of a device. */
export const deviceView = (d: DeviceRow) => ({
  id: d.id,
  name: d.name,
  platform: d.platform,
  trusted: d.trusted,
  blocked: d.blocked,
  firstSeenAt: iso(d.firstSeenAt),
  lastSeenAt: iso(d.lastSeenAt),
  lastIp: d.lastIp,
  lastCountry: d.lastCountry,
});
