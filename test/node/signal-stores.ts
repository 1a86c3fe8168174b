import {
  type Direction,
  IdentityChange,
  type IdentityKeyPair,
  IdentityKeyStore,
  type KyberPreKeyRecord,
  KyberPreKeyStore,
  type PreKeyRecord,
  PreKeyStore,
  type PrivateKey,
  type ProtocolAddress,
  type PublicKey,
  type SenderKeyRecord,
  SenderKeyStore,
  type SessionRecord,
  SessionStore,
  type SignedPreKeyRecord,
  SignedPreKeyStore,
  type Uuid,
} from "@signalapp/libsignal-client";

/**
 * In-memory implementations of libsignal's store interfaces, one set per simulated device: what a
 * real client keeps in its database, here in Maps that live as long as the test.
 */

/** The device's own identity, and the identity keys it has seen for others (trust on first use). */
export class MemoryIdentityKeyStore extends IdentityKeyStore {
  private readonly known = new Map<string, PublicKey>();

  constructor(
    private readonly identity: IdentityKeyPair,
    private readonly registrationId: number,
  ) {
    super();
  }

  override async getIdentityKey(): Promise<PrivateKey> {
    return this.identity.privateKey;
  }

  override async getLocalRegistrationId(): Promise<number> {
    return this.registrationId;
  }

  override async saveIdentity(name: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const previous = this.known.get(name.toString());
    this.known.set(name.toString(), key);
    return previous && !previous.equals(key) ? IdentityChange.ReplacedExisting : IdentityChange.NewOrUnchanged;
  }

  /** Trust on first use: an address is trusted while its key is unknown or unchanged. */
  override async isTrustedIdentity(name: ProtocolAddress, key: PublicKey, _direction: Direction): Promise<boolean> {
    const known = this.known.get(name.toString());
    return !known || known.equals(key);
  }

  override async getIdentity(name: ProtocolAddress): Promise<PublicKey | null> {
    return this.known.get(name.toString()) ?? null;
  }
}

/** Sessions by remote address (`name.deviceId`). */
export class MemorySessionStore extends SessionStore {
  private readonly sessions = new Map<string, SessionRecord>();

  override async saveSession(name: ProtocolAddress, record: SessionRecord): Promise<void> {
    this.sessions.set(name.toString(), record);
  }

  override async getSession(name: ProtocolAddress): Promise<SessionRecord | null> {
    return this.sessions.get(name.toString()) ?? null;
  }

  override async getExistingSessions(addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    return addresses.map((address) => {
      const record = this.sessions.get(address.toString());
      if (!record) throw new Error(`no session for ${address.toString()}`);
      return record;
    });
  }
}

/** A Map whose missing keys throw, as libsignal expects of its stores' getters. */
function required<T>(map: Map<number, T>, id: number, what: string): T {
  const record = map.get(id);
  if (!record) throw new Error(`no ${what} ${id}`);
  return record;
}

/** One-time EC prekeys; removed once a session used them. */
export class MemoryPreKeyStore extends PreKeyStore {
  readonly records = new Map<number, PreKeyRecord>();

  override async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    this.records.set(id, record);
  }

  override async getPreKey(id: number): Promise<PreKeyRecord> {
    return required(this.records, id, "prekey");
  }

  override async removePreKey(id: number): Promise<void> {
    this.records.delete(id);
  }
}

/** Signed EC prekeys. */
export class MemorySignedPreKeyStore extends SignedPreKeyStore {
  private readonly records = new Map<number, SignedPreKeyRecord>();

  override async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    this.records.set(id, record);
  }

  override async getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    return required(this.records, id, "signed prekey");
  }
}

/** Kyber prekeys: one-time ones are removed once used, the last-resort ones (`lastResortIds`) stay. */
export class MemoryKyberPreKeyStore extends KyberPreKeyStore {
  readonly records = new Map<number, KyberPreKeyRecord>();
  readonly lastResortIds = new Set<number>();

  override async saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
    this.records.set(id, record);
  }

  override async getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
    return required(this.records, id, "Kyber prekey");
  }

  override async markKyberPreKeyUsed(id: number, _signedPreKeyId: number, _baseKey: PublicKey): Promise<void> {
    if (!this.lastResortIds.has(id)) this.records.delete(id);
  }
}

/** Sender keys (group messaging) by sender address and distribution id. */
export class MemorySenderKeyStore extends SenderKeyStore {
  private readonly records = new Map<string, SenderKeyRecord>();

  override async saveSenderKey(sender: ProtocolAddress, distributionId: Uuid, record: SenderKeyRecord): Promise<void> {
    this.records.set(`${sender.toString()}/${distributionId}`, record);
  }

  override async getSenderKey(sender: ProtocolAddress, distributionId: Uuid): Promise<SenderKeyRecord | null> {
    return this.records.get(`${sender.toString()}/${distributionId}`) ?? null;
  }
}

/** Every store one device needs, for an identity and registration id. */
export function createSignalStores(identity: IdentityKeyPair, registrationId: number) {
  return {
    identity: new MemoryIdentityKeyStore(identity, registrationId),
    sessions: new MemorySessionStore(),
    preKeys: new MemoryPreKeyStore(),
    signedPreKeys: new MemorySignedPreKeyStore(),
    kyberPreKeys: new MemoryKyberPreKeyStore(),
    senderKeys: new MemorySenderKeyStore(),
  };
}

/** The stores of one device, as made by {@link createSignalStores}. */
export type SignalStores = ReturnType<typeof createSignalStores>;
