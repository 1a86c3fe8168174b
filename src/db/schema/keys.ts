import { integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { users } from "./users";

/**
 * The Signal-compatible key server (src/keys/). Keys are stored as the bytes libsignal
 * serializes, base64 with padding as clients send them, and checked before they are stored.
 */

/** An account's identity key (33 bytes: 0x05 + Curve25519), shared by its devices. */
export const identityKeys = sqliteTable("identity_keys", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  identityKey: text("identity_key").notNull(),
  /** The highest device number ever given to this account: numbers are never reused (an old envelope never reaches a new device). */
  lastDeviceId: integer("last_device_id").notNull().default(0),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** A device that uploaded keys: its small integer id (1, 2, …) for this account, tied to the sign-in device. */
export const keyDevices = sqliteTable(
  "key_devices",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    deviceId: integer("device_id").notNull(),
    /** The client's device id of the sessions (user_devices.id). */
    clientDeviceId: text("client_device_id").notNull(),
    registrationId: integer("registration_id").notNull(),
    /** The current signed prekey: id, public key, signature. */
    signedKeyId: integer("signed_key_id").notNull(),
    signedPublicKey: text("signed_public_key").notNull(),
    signedSignature: text("signed_signature").notNull(),
    /** The Kyber last-resort prekey: never consumed. */
    lastResortKeyId: integer("last_resort_key_id").notNull(),
    lastResortPublicKey: text("last_resort_public_key").notNull(),
    lastResortSignature: text("last_resort_signature").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.deviceId] }), uniqueIndex("key_devices_client_uq").on(t.userId, t.clientDeviceId)],
);
export type KeyDeviceRow = typeof keyDevices.$inferSelect;

/** One-time prekeys: EC (`kind` ec) and Kyber (`kind` kyber, with a signature); each handed out once. */
export const oneTimePreKeys = sqliteTable(
  "one_time_prekeys",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    deviceId: integer("device_id").notNull(),
    kind: text("kind", { enum: ["ec", "kyber"] }).notNull(),
    keyId: integer("key_id").notNull(),
    publicKey: text("public_key").notNull(),
    signature: text("signature"),
  },
  // The key's prefix (user, device, kind) is what counts and fetches read.
  (t) => [primaryKey({ columns: [t.userId, t.deviceId, t.kind, t.keyId] })],
);
