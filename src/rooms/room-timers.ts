/** The alarm flushes a dirty summary this long after the timer should have, if the timer never ran. */
const FLUSH_BACKSTOP_MS = 60_000;

/**
 * The room's wake-ups: the summary flush runs from an in-memory timer, so the send path never
 * waits on a storage write of setAlarm (its frames would be held behind it); the one alarm is the
 * backstop for it (a minute out, should the room be evicted first), the next typing expiry and
 * the next poll close time (each wake-up asks for the next one).
 * The alarm time is cached, so scheduling asks storage at most once per wake-up.
 */
export class RoomTimers {
  /** When the alarm is set for (null: none; undefined: not read yet). */
  private alarmAt: number | null | undefined;
  /** The pending summary flush. */
  private flushTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly flush: () => Promise<void>,
  ) {}

  /** The summary is dirty: flush it at `at` (once, however many changes ask). */
  scheduleFlush(at: number): void {
    void this.scheduleAlarm(at + FLUSH_BACKSTOP_MS);
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(
      () => {
        this.flushTimer = null;
        void this.flush();
      },
      Math.max(0, at - Date.now()),
    );
  }

  /** Wake the room by `at` at the latest (an earlier alarm stands). */
  async scheduleAlarm(at: number): Promise<void> {
    if (this.alarmAt === undefined) this.alarmAt = await this.storage.getAlarm();
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.storage.setAlarm(at);
  }

  /** The alarm fired (it flushes now): forget it, and the flush timer it makes redundant. */
  alarmFired(): void {
    this.alarmAt = null;
    this.cancelFlush();
  }

  /** No flush until the next change asks for one (the alarm, a test, the room being erased). */
  cancelFlush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }

  /** The room is erased: no alarm, no timer. */
  async clear(): Promise<void> {
    this.cancelFlush();
    await this.storage.deleteAlarm();
    this.alarmAt = null;
  }
}
