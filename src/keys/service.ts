import { and, eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Database } from "../db/client";
import { chatMembers, chats, identityKeys, keyDevices, oneTimePreKeys, sessions } from "../db/schema";
import type { AuthContext } from "../env";
import { fromBase64 } from "../lib/base64";
import { isUniqueViolation } from "../lib/db-errors";
import { AppError, notFound } from "../lib/errors";
import { chatRoom, type RoomEnv } from "../rooms/client";
import type { KeyDevice } from "../rooms/types";
import { checkSignedKey, checkUpload, MAX_KEY_DEVICES, type UploadKeys } from "./formats";

/**
 * Uploading and counting the caller's keys. Every key and signature is checked before anything
 * is written (formats.ts), and one D1 batch writes it all, so a refused upload stores nothing.
 */

/** The caller's key device: its number for this account (allocated on first upload: 1, 2, …). */
async function clientDeviceOf(db: Database, auth: AuthContext): Promise<string> {
  const [session] = await db.select({ deviceId: sessions.deviceId }).from(sessions).where(eq(sessions.id, auth.sessionId)).limit(1);
  if (!session) throw notFound("Session");
  return session.deviceId;
}

/** The caller's key device row, or undefined before their first upload from this device. */
export async function myKeyDevice(db: Database, auth: AuthContext) {
  const clientDeviceId = await clientDeviceOf(db, auth);
  const [row] = await db
    .select()
    .from(keyDevices)
    .where(and(eq(keyDevices.userId, auth.userId), eq(keyDevices.clientDeviceId, clientDeviceId)))
    .limit(1);
  return { clientDeviceId, row };
}

/**
 * The key device of the caller's session (null when its device never uploaded keys): what an
 * encrypted chat delivers envelopes to. One join on the session's primary key.
 */
export async function sessionKeyDevice(db: Database, auth: AuthContext): Promise<KeyDevice | null> {
  const [row] = await db
    .select({ deviceId: keyDevices.deviceId, registrationId: keyDevices.registrationId })
    .from(sessions)
    .innerJoin(keyDevices, and(eq(keyDevices.userId, sessions.userId), eq(keyDevices.clientDeviceId, sessions.deviceId)))
    .where(and(eq(sessions.id, auth.sessionId), eq(sessions.userId, auth.userId)))
    .limit(1);
  return row ?? null;
}

/** A new key device past MAX_KEY_DEVICES is refused (`409 too_many_devices`): every send must reach them all. */
async function refuseDeviceOverLimit(db: Database, userId: string): Promise<void> {
  const [row] = await db.select({ n: sql<number>`count(*)` }).from(keyDevices).where(eq(keyDevices.userId, userId));
  if ((row?.n ?? 0) >= MAX_KEY_DEVICES) {
    throw new AppError(409, "too_many_devices", `An account may have keys on at most ${MAX_KEY_DEVICES} devices: remove one first`, {
      max: MAX_KEY_DEVICES,
    });
  }
}

/**
 * A device number this account never used: one past the highest ever given (identity_keys'
 * counter, moved atomically), so envelopes left for a removed device never reach a later one.
 * An account's first device is 1 (its identity row, written with the upload, starts the counter).
 */
async function nextDeviceNumber(db: Database, userId: string): Promise<number> {
  const [row] = await db
    .update(identityKeys)
    .set({ lastDeviceId: sql`${identityKeys.lastDeviceId} + 1` })
    .where(eq(identityKeys.userId, userId))
    .returning({ deviceId: identityKeys.lastDeviceId });
  return row?.deviceId ?? 1;
}

/**
 * Upload keys for the caller's device. The first upload from a device needs `signedPreKey` and
 * `pqLastResortPreKey` (`422 missing_key`) and gets the device its number; later ones may carry any
 * part. The account's identity key is set by its first upload; another one later is `409
 * identity_key_changed` unless it says `resetIdentity` (then every device's keys go, this device
 * starts over with the upload, and its direct-chat partners are told). Uploaded one-time keys
 * replace the device's stored ones of that kind.
 * Answers the device's number.
 */
export async function uploadKeys(db: Database, env: RoomEnv, auth: AuthContext, body: UploadKeys): Promise<{ deviceId: number }> {
  checkUpload(body);
  const [current] = await db.select().from(identityKeys).where(eq(identityKeys.userId, auth.userId)).limit(1);
  const reset = !!current && current.identityKey !== body.identityKey;
  if (reset && !body.resetIdentity) {
    throw new AppError(409, "identity_key_changed", "This account has another identity key; upload with resetIdentity: true to replace it");
  }
  const { clientDeviceId, row: existing } = await myKeyDevice(db, auth);
  // A new identity key invalidates every signature made with the old one: this device starts over.
  const row = reset ? undefined : existing;
  if (!row && (!body.signedPreKey || !body.pqLastResortPreKey)) {
    const key = body.signedPreKey ? "pqLastResortPreKey" : "signedPreKey";
    throw new AppError(422, "missing_key", `A device's first upload needs ${key}`, { key });
  }
  const at = Date.now();
  // The same device keeps its number (also across a reset); a new one gets a number never used before.
  if (!row && !existing && !reset) await refuseDeviceOverLimit(db, auth.userId);
  const deviceId = row?.deviceId ?? existing?.deviceId ?? (await nextDeviceNumber(db, auth.userId));
  const device = { userId: auth.userId, deviceId };
  const writes: BatchItem<"sqlite">[] = [
    // A reset drops every device's keys (this one's are written again below).
    ...(reset
      ? [
          db.delete(oneTimePreKeys).where(eq(oneTimePreKeys.userId, auth.userId)),
          db.delete(keyDevices).where(eq(keyDevices.userId, auth.userId)),
        ]
      : []),
    db
      .insert(identityKeys)
      .values({ userId: auth.userId, identityKey: body.identityKey, lastDeviceId: deviceId, createdAt: at, updatedAt: at })
      .onConflictDoUpdate({ target: identityKeys.userId, set: { identityKey: body.identityKey, updatedAt: at } }),
    row
      ? db
          .update(keyDevices)
          .set({
            registrationId: body.registrationId,
            updatedAt: at,
            ...(body.signedPreKey && {
              signedKeyId: body.signedPreKey.keyId,
              signedPublicKey: body.signedPreKey.publicKey,
              signedSignature: body.signedPreKey.signature,
            }),
            ...(body.pqLastResortPreKey && {
              lastResortKeyId: body.pqLastResortPreKey.keyId,
              lastResortPublicKey: body.pqLastResortPreKey.publicKey,
              lastResortSignature: body.pqLastResortPreKey.signature,
            }),
          })
          .where(and(eq(keyDevices.userId, auth.userId), eq(keyDevices.deviceId, deviceId)))
      : db.insert(keyDevices).values({
          ...device,
          clientDeviceId,
          registrationId: body.registrationId,
          signedKeyId: body.signedPreKey!.keyId,
          signedPublicKey: body.signedPreKey!.publicKey,
          signedSignature: body.signedPreKey!.signature,
          lastResortKeyId: body.pqLastResortPreKey!.keyId,
          lastResortPublicKey: body.pqLastResortPreKey!.publicKey,
          lastResortSignature: body.pqLastResortPreKey!.signature,
          createdAt: at,
          updatedAt: at,
        }),
  ];
  for (const [kind, keys] of [
    ["ec", body.preKeys],
    ["kyber", body.pqPreKeys],
  ] as const) {
    if (!keys) continue;
    const mine = and(eq(oneTimePreKeys.userId, auth.userId), eq(oneTimePreKeys.deviceId, deviceId), eq(oneTimePreKeys.kind, kind));
    writes.push(db.delete(oneTimePreKeys).where(mine));
    if (keys.length > 0) {
      const rows = keys.map((k) => ({
        ...device,
        kind,
        keyId: k.keyId,
        publicKey: k.publicKey,
        signature: "signature" in k ? k.signature : null,
      }));
      // D1 binds at most 100 parameters a statement: 6 columns a row, 16 rows a statement.
      for (let i = 0; i < rows.length; i += 16) writes.push(db.insert(oneTimePreKeys).values(rows.slice(i, i + 16)));
    }
  }
  try {
    await db.batch(writes as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  } catch (err) {
    // Two first uploads of one account at once both took number 1: the second may simply retry.
    if (isUniqueViolation(err, "key_devices"))
      throw new AppError(409, "conflict", "Another device registered at the same moment; try again");
    throw err;
  }
  if (reset) await tellDirectPartners(db, env, auth.userId);
  return { deviceId };
}

/** How many one-time EC and Kyber prekeys the caller's device has left (`{0, 0}` before its first upload). */
export async function countKeys(db: Database, auth: AuthContext): Promise<{ count: number; pqCount: number }> {
  const { row } = await myKeyDevice(db, auth);
  if (!row) return { count: 0, pqCount: 0 };
  const counts = await db
    .select({ kind: oneTimePreKeys.kind, n: sql<number>`count(*)` })
    .from(oneTimePreKeys)
    .where(and(eq(oneTimePreKeys.userId, auth.userId), eq(oneTimePreKeys.deviceId, row.deviceId)))
    .groupBy(oneTimePreKeys.kind);
  const of = (kind: string) => counts.find((c) => c.kind === kind)?.n ?? 0;
  return { count: of("ec"), pqCount: of("kyber") };
}

/**
 * Rotate the caller's device's signed prekey: checked like an upload's (format, and a signature
 * by the account's identity key). A device that never uploaded keys is `404 not_found`.
 */
export async function rotateSignedPreKey(
  db: Database,
  auth: AuthContext,
  signed: { keyId: number; publicKey: string; signature: string },
): Promise<void> {
  const [{ row }, [identity]] = await Promise.all([
    myKeyDevice(db, auth),
    db.select().from(identityKeys).where(eq(identityKeys.userId, auth.userId)).limit(1),
  ]);
  if (!row || !identity) throw notFound("Keys");
  checkSignedKey(fromBase64(identity.identityKey), signed, "ec", "signedPreKey");
  await db
    .update(keyDevices)
    .set({ signedKeyId: signed.keyId, signedPublicKey: signed.publicKey, signedSignature: signed.signature, updatedAt: Date.now() })
    .where(and(eq(keyDevices.userId, auth.userId), eq(keyDevices.deviceId, row.deviceId)));
}

/**
 * The account's security code changed: an `identity_changed` system message in each of its direct
 * chats, so the other person knows to verify it again. A room that cannot be reached is logged.
 */
async function tellDirectPartners(db: Database, env: RoomEnv, userId: string): Promise<void> {
  const direct = await db
    .select({ chatId: chatMembers.chatId })
    .from(chatMembers)
    .innerJoin(chats, eq(chats.id, chatMembers.chatId))
    .where(and(eq(chatMembers.userId, userId), eq(chats.type, "direct")));
  const results = await Promise.allSettled(
    direct.map(({ chatId }) => chatRoom(env, chatId).notice({ event: "identity_changed", actorId: userId })),
  );
  for (const [i, r] of results.entries()) {
    if (r.status === "rejected") {
      console.error(
        JSON.stringify({ level: "error", msg: "identity change not told", chatId: direct[i]!.chatId, error: String(r.reason) }),
      );
    }
  }
}
