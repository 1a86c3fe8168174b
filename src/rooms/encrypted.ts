import { AppError } from "../lib/errors";
import { loadMemberDevices } from "./directory";
import { checkEnvelopeDevices, ENVELOPE_TTL_MS, type EnvelopeDelivery } from "./envelopes";
import type { RoomCore } from "./room-core";
import type { DeviceEnvelope, EnvelopeInput, KeyDevice, Message, RoomEvent, SendInput } from "./types";

/** Who reads or receives: a member on one of their devices (`device`: its key device; null when it has no keys). */
export interface RoomViewer {
  userId: string;
  device: KeyDevice | null;
}

/** A viewer's copy of an event's frame text, made from the text every socket without its own envelope gets. */
export type Personalize = (viewer: RoomViewer, shared: string) => string;

const isEncryptedMessage = (m: Message) => m.type === "encrypted" && !m.deleted;

/** What every `message.new` frame text of an encrypted message ends with: its `envelope`, last, empty. */
const NO_ENVELOPE_TAIL = '"envelope":null}}';

/**
 * End-to-end encrypted chats: the room stores and routes opaque ciphertext. An encrypted send's
 * envelopes must match every member's key devices (checked against the key server's devices in
 * D1 before anything is stored); each device then gets only its own envelope, live, in history
 * and in replayed events, until it acknowledges it (erased; the sender is told) or 30 days pass.
 * Envelopes are matched by device number and registration id, so a device that registered again
 * never reads what was encrypted for its earlier registration.
 */
export class EncryptedDelivery {
  constructor(private readonly room: RoomCore) {}

  /** Before an encrypted send is stored: its envelopes cover exactly the devices it can reach now (409/410 otherwise). */
  async checkEnvelopes(input: SendInput): Promise<void> {
    if (!input.envelopes) return;
    const devices = await loadMemberDevices(this.room.host.db, this.room.access.chatId(), input.userId);
    checkEnvelopeDevices(input.envelopes, devices, { userId: input.userId, deviceId: input.senderDeviceId ?? null });
  }

  /**
   * Store a sent message's envelopes (inside its write). A shadow message's go to its sender's
   * own devices only: nobody else ever sees the message.
   */
  store(seq: number, input: SendInput, shadow: boolean, at: number): void {
    const envelopes = shadow ? input.envelopes?.filter((e) => e.userId === input.userId) : input.envelopes;
    if (envelopes?.length) this.room.store.envelopes.add(seq, envelopes, at);
  }

  /** After a send with envelopes committed: wake the room when they fall due for erasing. */
  stored(at: number): void {
    this.room.host.wakeAt(at + ENVELOPE_TTL_MS);
  }

  /**
   * The live `message.new` of an encrypted send, as each device receives it: the shared frame
   * text (no envelope), or that text with its own envelope spliced in (one serialization of the
   * message however many sockets, so a large ciphertext is not copied per socket).
   */
  personalize(envelopes: readonly EnvelopeInput[] | undefined): Personalize {
    const byDevice = new Map((envelopes ?? []).map((e) => [`${e.userId}:${e.deviceId}:${e.registrationId}`, e]));
    return (viewer, shared) => {
      const e = viewer.device && byDevice.get(`${viewer.userId}:${viewer.device.deviceId}:${viewer.device.registrationId}`);
      if (!e || !shared.endsWith(NO_ENVELOPE_TAIL)) return shared;
      const envelope: DeviceEnvelope = { deviceId: e.deviceId, type: e.type, body: e.body };
      return `${shared.slice(0, -NO_ENVELOPE_TAIL.length)}"envelope":${JSON.stringify(envelope)}}}`;
    };
  }

  /** Give each encrypted message of `messages` the viewer's envelope (in place). */
  withEnvelopes(messages: Message[], viewer: RoomViewer): Message[] {
    const encrypted = messages.filter(isEncryptedMessage);
    if (encrypted.length === 0) return messages;
    const found = viewer.device
      ? this.room.store.envelopes.forDevice(
          encrypted.map((m) => m.seq),
          viewer.userId,
          viewer.device,
        )
      : new Map<number, DeviceEnvelope>();
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
   * sockets hear `envelope.delivered` (live only: `GET …/deliveries` is the record, and a large
   * group's acknowledgements would otherwise crowd the event log). Answers the ids that were
   * waiting (others are ignored, each id counts once).
   */
  async acknowledge(viewer: RoomViewer, messageIds: readonly string[]): Promise<{ acknowledged: string[] }> {
    const { store, access, host } = this.room;
    await access.requireMember(viewer.userId);
    if (!access.config().encrypted) throw new AppError(422, "not_encrypted", "This chat is not end-to-end encrypted");
    const device = viewer.device;
    if (!device) throw new AppError(422, "no_key_device", "This device has no keys (PUT /keys), so no envelopes are addressed to it");
    const rows = [...new Set(messageIds)].map((id) => store.findById(id)).filter((row) => row !== undefined);
    const at = Date.now();
    const done = new Set(
      store.envelopes.acknowledge(
        rows.map((r) => r.seq),
        viewer.userId,
        device,
        at,
      ),
    );
    const delivered = rows.filter((r) => done.has(r.seq));
    const deliveredAt = new Date(at).toISOString();
    for (const r of delivered) {
      if (r.sender_id === null) continue;
      const frame = {
        type: "envelope.delivered",
        messageId: r.id,
        seq: r.seq,
        userId: viewer.userId,
        deviceId: device.deviceId,
        deliveredAt,
      };
      host.sendToUser(r.sender_id, frame);
    }
    return { acknowledged: delivered.map((r) => r.id) };
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
