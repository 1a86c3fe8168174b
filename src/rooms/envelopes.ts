import { AppError } from "../lib/errors";
import { addMissingColumns } from "./schema-upgrade";
import type { DeviceEnvelope, EnvelopeInput, KeyDevice } from "./types";

/** An envelope nobody acknowledged is erased this long after it was sent. */
export const ENVELOPE_TTL_MS = 30 * 24 * 3600_000;

/** One key device of a member, as the key server knows it. */
export interface MemberDevice {
  userId: string;
  deviceId: number;
  registrationId: number;
}

/** Where one envelope stands, as its sender sees it. */
export interface EnvelopeDelivery {
  userId: string;
  deviceId: number;
  status: "pending" | "delivered" | "expired";
  deliveredAt: string | null;
}

/** A device named in a 409/410 answer. */
type DeviceRef = { userId: string; deviceId: number };

/**
 * `body` is the envelope until its device acknowledges it or it is ENVELOPE_TTL_MS old (then
 * NULL); the row stays as the delivery record (`delivered_at`, or NULL for expired) while the
 * message exists. `registration_id` is the one the sender encrypted for: only that registration
 * of the device reads it.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS envelopes (
  seq INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  device_id INTEGER NOT NULL,
  registration_id INTEGER NOT NULL,
  type INTEGER NOT NULL,
  body TEXT,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER,
  PRIMARY KEY (seq, user_id, device_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS envelopes_waiting_idx ON envelopes (created_at) WHERE body IS NOT NULL;
`;

const deviceKey = (userId: string, deviceId: number) => `${userId}:${deviceId}`;

/**
 * The per-device envelopes of an encrypted chat's messages: stored with the message, handed to
 * their device alone (live, in history and in replayed events), erased once it acknowledges
 * them or after 30 days.
 */
export class EnvelopeStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
    addMissingColumns(sql, "envelopes", [["registration_id", "INTEGER NOT NULL DEFAULT 0"]]);
  }

  /** Store a message's envelopes (inside the send's transaction). */
  add(seq: number, envelopes: readonly EnvelopeInput[], at: number): void {
    for (const e of envelopes) {
      this.sql.exec(
        "INSERT OR IGNORE INTO envelopes (seq, user_id, device_id, registration_id, type, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        seq,
        e.userId,
        e.deviceId,
        e.registrationId,
        e.type,
        e.body,
        at,
      );
    }
  }

  /** The envelopes of `seqs` still waiting for one device (as registered now), by seq. */
  forDevice(seqs: readonly number[], userId: string, device: KeyDevice): Map<number, DeviceEnvelope> {
    const rows = this.sql
      .exec<{ seq: number; type: number; body: string }>(
        `SELECT seq, type, body FROM envelopes
          WHERE user_id = ? AND device_id = ? AND registration_id = ? AND body IS NOT NULL AND seq IN (SELECT value FROM json_each(?))`,
        userId,
        device.deviceId,
        device.registrationId,
        JSON.stringify(seqs),
      )
      .toArray();
    return new Map(rows.map((r) => [r.seq, { deviceId: device.deviceId, type: r.type, body: r.body }]));
  }

  /** A device acknowledged the envelopes of `seqs`: they are erased; answers the seqs that were waiting. */
  acknowledge(seqs: readonly number[], userId: string, device: KeyDevice, at: number): number[] {
    return this.sql
      .exec<{ seq: number }>(
        `UPDATE envelopes SET body = NULL, delivered_at = ?
          WHERE user_id = ? AND device_id = ? AND registration_id = ? AND body IS NOT NULL AND seq IN (SELECT value FROM json_each(?))
          RETURNING seq`,
        at,
        userId,
        device.deviceId,
        device.registrationId,
        JSON.stringify(seqs),
      )
      .toArray()
      .map((r) => r.seq);
  }

  /** Every envelope of the message at `seq` and where it stands. */
  deliveries(seq: number): EnvelopeDelivery[] {
    return this.sql
      .exec<{ user_id: string; device_id: number; body: string | null; delivered_at: number | null }>(
        "SELECT user_id, device_id, body, delivered_at FROM envelopes WHERE seq = ? ORDER BY user_id, device_id",
        seq,
      )
      .toArray()
      .map((r) => ({
        userId: r.user_id,
        deviceId: r.device_id,
        status: r.delivered_at !== null ? "delivered" : r.body !== null ? "pending" : "expired",
        deliveredAt: r.delivered_at === null ? null : new Date(r.delivered_at).toISOString(),
      }));
  }

  /** Erase what nobody acknowledged within ENVELOPE_TTL_MS; answers when the next one falls due (null: none waits). */
  expire(at: number): number | null {
    this.sql.exec("UPDATE envelopes SET body = NULL WHERE body IS NOT NULL AND created_at <= ?", at - ENVELOPE_TTL_MS);
    const next = this.sql.exec<{ t: number | null }>("SELECT min(created_at) AS t FROM envelopes WHERE body IS NOT NULL").one().t;
    return next === null ? null : next + ENVELOPE_TTL_MS;
  }

  /** The message at `seq` was deleted: its envelopes go with it. */
  erase(seq: number): void {
    this.sql.exec("DELETE FROM envelopes WHERE seq = ?", seq);
  }

  /** History was cleared through `seq`. */
  truncate(seq: number): void {
    this.sql.exec("DELETE FROM envelopes WHERE seq <= ?", seq);
  }
}

/**
 * Check an envelope set against the devices it must reach: every device of every member but the
 * sending one. Missing or extra devices answer `409 device_mismatch {missingDevices,
 * extraDevices}`; envelopes for a registration id the device no longer has answer `410
 * stale_devices {staleDevices}`. The client refreshes the devices (GET /keys/…) and retries with
 * the same clientMessageId.
 */
export function checkEnvelopeDevices(
  envelopes: readonly EnvelopeInput[],
  devices: readonly MemberDevice[],
  sender: { userId: string; deviceId: number | null },
): void {
  const expected = new Map(
    devices.filter((d) => !(d.userId === sender.userId && d.deviceId === sender.deviceId)).map((d) => [deviceKey(d.userId, d.deviceId), d]),
  );
  const given = new Set(envelopes.map((e) => deviceKey(e.userId, e.deviceId)));
  const ref = (d: DeviceRef): DeviceRef => ({ userId: d.userId, deviceId: d.deviceId });
  const missingDevices = [...expected.values()].filter((d) => !given.has(deviceKey(d.userId, d.deviceId))).map(ref);
  const extraDevices = envelopes.filter((e) => !expected.has(deviceKey(e.userId, e.deviceId))).map(ref);
  if (missingDevices.length > 0 || extraDevices.length > 0) {
    throw new AppError(409, "device_mismatch", "The envelopes do not match the members' devices: refresh them and retry", {
      missingDevices,
      extraDevices,
    });
  }
  const staleDevices = envelopes.filter((e) => expected.get(deviceKey(e.userId, e.deviceId))!.registrationId !== e.registrationId).map(ref);
  if (staleDevices.length > 0) {
    throw new AppError(410, "stale_devices", "Some devices registered again: fetch their keys and retry", { staleDevices });
  }
}
