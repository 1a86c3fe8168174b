import Bowser from "bowser";
import { and, desc, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { userDevices } from "../db/schema";
import type { RequestInfo } from "../lib/request-info";
import { iso } from "../lib/time";

export type DeviceRow = typeof userDevices.$inferSelect;

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

export async function findDevice(db: Database, userId: string, deviceId: string): Promise<DeviceRow | undefined> {
  return db.query.userDevices.findFirst({
    where: and(eq(userDevices.userId, userId), eq(userDevices.id, deviceId)),
  });
}

/** The caller's devices, most recently seen first. */
export async function listDevices(db: Database, userId: string): Promise<DeviceRow[]> {
  return db.select().from(userDevices).where(eq(userDevices.userId, userId)).orderBy(desc(userDevices.lastSeenAt));
}

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
