import { AppError } from "../lib/errors";
import { loadMemberDevices } from "./directory";
import { checkEnvelopeDevices, ENVELOPE_TTL_MS, type EnvelopeDelivery } from "./envelopes";
import type { RoomCore } from "./room-core";
import type { DeviceEnvelope, EnvelopeInput, Message, RoomEvent, SendInput } from "./types";

/** Who reads or receives: a member on one of their devices (`deviceId`: its key device; null when it has no keys). */
export interface RoomViewer {
  userId: string;
  deviceId: number | null;
}

/** The fields a viewer's copy of an event replaces (the message with their envelope). */
export type Personalize = (viewer: RoomViewer) => Record<string, unknown>;

const isEncryptedMessage = (m: Message) => m.type === "encrypted" && !m.deleted;

/**
 * End-to-end encrypted chats: the room stores and routes opaque ciphertext. An encrypted send's
 * envelopes must match every member's key devices (checked against the key server's devices in
 * D1 before anything is stored); each device then gets only its own envelope, live, in history
 * and in replayed events, until it acknowledges it (erased; the sender is told) or 30 days pass.
 */
export class EncryptedDelivery {
  constructor(private readonly room: RoomCore) {}

  /** Before an encrypted send is stored: its envelopes cover exactly the members' devices now (409/410 otherwise). */
  async checkEnvelopes(input: SendInput): Promise<void> {
    if (!input.envelopes) return;
    const devices = await loadMemberDevices(this.room.host.db, this.room.access.chatId());
    checkEnvelopeDevices(input.envelopes, devices, { userId: input.userId, deviceId: input.senderDeviceId ?? null });
  }

  /** Store a sent message's envelopes (inside its write) and wake the room when they fall due. */
  store(seq: number, envelopes: readonly EnvelopeInput[], at: number): void {
    this.room.store.envelopes.add(seq, envelopes, at);
    this.room.host.wakeAt(at + ENVELOPE_TTL_MS);
  }

  /** The live `message.new` of an encrypted send, as each device receives it: with its own envelope. */
  personalize(message: Message, envelopes: readonly EnvelopeInput[] | undefined): Personalize {
    const byDevice = new Map<string, DeviceEnvelope>(
      (envelopes ?? []).map((e) => [`${e.userId}:${e.deviceId}`, { deviceId: e.deviceId, type: e.type, body: e.body }]),
    );
    return (viewer) => ({ message: { ...message, envelope: byDevice.get(`${viewer.userId}:${viewer.deviceId}`) ?? null } });
  }

  /** Give each encrypted message of `messages` the viewer's envelope (in place). */
  withEnvelopes(messages: Message[], viewer: RoomViewer): Message[] {
    const encrypted = messages.filter(isEncryptedMessage);
    if (encrypted.length === 0) return messages;
    const found =
      viewer.deviceId === null
        ? new Map<number, DeviceEnvelope>()
        : this.room.store.envelopes.forDevice(
            encrypted.map((m) => m.seq),
            viewer.userId,
            viewer.deviceId,
          );
    for (const m of encrypted) m.envelope = found.get(m.seq) ?? null;
    return messages;
  }

  /** Replayed events: each `message.new` of an encrypted message carries the viewer's envelope. */
  withEventEnvelopes(events: RoomEvent[], viewer: RoomViewer): RoomEvent[] {
    const messages = events.filter((e) => e.type === "message.new").map((e) => e.message as Message);
    this.withEnvelopes(messages, viewer);
    return events;
  }

  /**
   * The viewer's device received these messages: their envelopes are erased, and each sender's
   * sockets hear `envelope.delivered`. Answers the ids that were waiting (others are ignored).
   */
  async acknowledge(viewer: RoomViewer, messageIds: readonly string[]): Promise<{ acknowledged: string[] }> {
    const { store, access } = this.room;
    await access.requireMember(viewer.userId);
    if (viewer.deviceId === null) {
      throw new AppError(422, "no_key_device", "This device has no keys (PUT /keys), so no envelopes are addressed to it");
    }
    const deviceId = viewer.deviceId;
    const rows = messageIds.map((id) => store.findById(id)).filter((row) => row !== undefined);
    const at = Date.now();
    const acknowledged = this.room.write((emit) => {
      const done = new Set(
        store.envelopes.acknowledge(
          rows.map((r) => r.seq),
          viewer.userId,
          deviceId,
          at,
        ),
      );
      const delivered = rows.filter((r) => done.has(r.seq));
      const deliveredAt = new Date(at).toISOString();
      for (const r of delivered) {
        if (r.sender_id === null) continue;
        emit(
          "envelope.delivered",
          { messageId: r.id, seq: r.seq, userId: viewer.userId, deviceId, deliveredAt },
          { audience: r.sender_id },
        );
      }
      return delivered.map((r) => r.id);
    });
    return { acknowledged };
  }

  /** Where each envelope of my message stands (its sender only: `403 not_message_author`). */
  async deliveries(userId: string, messageId: string): Promise<EnvelopeDelivery[]> {
    const { store, access } = this.room;
    await access.requireMember(userId);
    const row = access.visibleMessage(userId, messageId);
    if (row.sender_id !== userId) throw new AppError(403, "not_message_author", "Only the sender sees a message's deliveries");
    return store.envelopes.deliveries(row.seq);
  }

  /** Erase envelopes nobody acknowledged for 30 days; answers when the next falls due (null: none waits). */
  expireDue(at: number): number | null {
    return this.room.store.envelopes.expire(at);
  }
}
