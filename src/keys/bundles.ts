import { and, eq, or, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { blocks, identityKeys, type KeyDeviceRow, keyDevices, users } from "../db/schema";
import { notFound } from "../lib/errors";

/**
 * Fetching another account's keys to start sessions with its devices (X3DH / PQXDH). Each fetch
 * takes one one-time EC prekey per device, atomically (one DELETE … RETURNING of one row: two
 * concurrent fetches never get the same key; `preKey: null` when none are left), and one Kyber
 * prekey: a one-time one while any remain, then the last-resort one, which is never used up.
 * Accounts that do not exist, are not active, have no keys, or block the requester (or are
 * blocked by them) answer 404 alike.
 */

export interface DeviceBundle {
  deviceId: number;
  registrationId: number;
  signedPreKey: { keyId: number; publicKey: string; signature: string };
  preKey: { keyId: number; publicKey: string } | null;
  pqPreKey: { keyId: number; publicKey: string; signature: string };
}

/** The account's identity key, if `viewerId` may fetch its keys; else 404. */
async function reachableIdentity(db: Database, viewerId: string, userId: string): Promise<string> {
  const [row] = await db
    .select({
      identityKey: identityKeys.identityKey,
      status: users.status,
      blocked: sql<number | null>`(${blockedEitherWay(viewerId, userId)})`,
    })
    .from(identityKeys)
    .innerJoin(users, eq(users.id, identityKeys.userId))
    .where(eq(identityKeys.userId, userId))
    .limit(1);
  if (row?.status !== "active" || row.blocked) throw notFound("Keys");
  return row.identityKey;
}

const blockedEitherWay = (a: string, b: string) =>
  sql`SELECT 1 FROM ${blocks} WHERE ${or(
    and(eq(blocks.blockerId, a), eq(blocks.blockedId, b)),
    and(eq(blocks.blockerId, b), eq(blocks.blockedId, a)),
  )} LIMIT 1`;

/** The device numbers of an account that uploaded keys. */
export async function listKeyDevices(db: Database, viewerId: string, userId: string): Promise<number[]> {
  await reachableIdentity(db, viewerId, userId);
  const rows = await db
    .select({ deviceId: keyDevices.deviceId })
    .from(keyDevices)
    .where(eq(keyDevices.userId, userId))
    .orderBy(keyDevices.deviceId);
  return rows.map((r) => r.deviceId);
}

/** One device's bundle (`deviceId` a number) or every device's (`*`), taking one-time keys as described above. */
export async function fetchBundles(db: Database, viewerId: string, userId: string, deviceId: number | "*") {
  const identityKey = await reachableIdentity(db, viewerId, userId);
  const devices = await db
    .select()
    .from(keyDevices)
    .where(deviceId === "*" ? eq(keyDevices.userId, userId) : and(eq(keyDevices.userId, userId), eq(keyDevices.deviceId, deviceId)))
    .orderBy(keyDevices.deviceId);
  if (devices.length === 0) throw notFound("Device");
  return { identityKey, devices: await Promise.all(devices.map((d) => bundleOf(db, d))) };
}

type TakenKey = { key_id: number; public_key: string; signature: string | null };

/** Take one one-time key of `kind` from the device (lowest id first), or null when none is left. */
async function takeOne(db: Database, device: KeyDeviceRow, kind: "ec" | "kyber"): Promise<TakenKey | null> {
  const [row] = await db.all<TakenKey>(sql`
    DELETE FROM one_time_prekeys
     WHERE rowid = (SELECT rowid FROM one_time_prekeys
                     WHERE user_id = ${device.userId} AND device_id = ${device.deviceId} AND kind = ${kind}
                     ORDER BY key_id LIMIT 1)
    RETURNING key_id, public_key, signature`);
  return row ?? null;
}

async function bundleOf(db: Database, device: KeyDeviceRow): Promise<DeviceBundle> {
  const [ec, kyber] = await Promise.all([takeOne(db, device, "ec"), takeOne(db, device, "kyber")]);
  return {
    deviceId: device.deviceId,
    registrationId: device.registrationId,
    signedPreKey: { keyId: device.signedKeyId, publicKey: device.signedPublicKey, signature: device.signedSignature },
    preKey: ec ? { keyId: ec.key_id, publicKey: ec.public_key } : null,
    pqPreKey: kyber
      ? { keyId: kyber.key_id, publicKey: kyber.public_key, signature: kyber.signature! }
      : { keyId: device.lastResortKeyId, publicKey: device.lastResortPublicKey, signature: device.lastResortSignature },
  };
}
