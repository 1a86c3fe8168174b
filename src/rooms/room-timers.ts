/** The alarm flushes a dirty summary this long after the timer should have, if the timer never ran. */
const FLUSH_BACKSTOP_MS = 60_000;

/**
 * The room's wake-ups: the summary flush and the coalesced reaction frames run from in-memory
 * timers, so the send path never waits on a storage write of setAlarm (its frames would be held
 * behind it); the one alarm is the backstop for both (a minute out, should the room be evicted
 * first: the alarm handler flushes whatever is due), the next typing expiry and the next poll
 * close time (each wake-up asks for the next one). The alarm time is cached, so scheduling asks
 * storage at most once per wake-up.
 */
export class RoomTimers {
  /** When the alarm is set for (null: none; undefined: not read yet). */
  private alarmAt: number | null | undefined;
  /** The pending in-memory flushes: the summary's and the reaction frames'. */
  private readonly pending = new Map<"summary" | "reactions", ReturnType<typeof setTimeout>>();

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly flush: () => Promise<void>,
    private readonly flushReactions: () => void = () => {},
  ) {}

  /** The summary is dirty: flush it at `at` (once, however many changes ask). */
  scheduleFlush(at: number): void {
    this.arm("summary", at, () => void this.flush());
  }

  /** Reaction frames are due at `at`: flush them then (once, however many changes ask). */
  scheduleReactions(at: number): void {
    this.arm("reactions", at, this.flushReactions);
  }

  /** Run `run` at `at` unless a timer of `kind` is already pending; the alarm backs it up. */
  private arm(kind: "summary" | "reactions", at: number, run: () => void): void {
    void this.scheduleAlarm(at + FLUSH_BACKSTOP_MS);
    if (this.pending.has(kind)) return;
    const timer = setTimeout(
      () => {
        this.pending.delete(kind);
        run();
      },
      Math.max(0, at - Date.now()),
    );
    this.pending.set(kind, timer);
  }

  /** Wake the room by `at` at the latest (an earlier alarm stands). */
  async scheduleAlarm(at: number): Promise<void> {
    if (this.alarmAt === undefined) this.alarmAt = await this.storage.getAlarm();
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.storage.setAlarm(at);
  }

  /** The alarm fired (it flushes now): forget it, and the flush timers it makes redundant. */
  alarmFired(): void {
    this.alarmAt = null;
    this.cancelFlush();
  }

  /** No flush until the next change asks for one (the alarm, a test, the room being erased). */
  cancelFlush(): void {
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }

  /** The room is erased: no alarm, no timer. */
  async clear(): Promise<void> {
    this.cancelFlush();
    await this.storage.deleteAlarm();
    this.alarmAt = null;
  }
}
