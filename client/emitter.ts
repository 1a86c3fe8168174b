/** A listener of one event: gets the event's payload. */
export type Listener<T> = (payload: T) => void;

/**
 * A small typed event emitter: `Events` maps each event name to its payload type, so
 * `on("message.new", (frame) => …)` knows `frame`'s shape. A listener that throws is reported to
 * `console.error` and does not stop the others (nor the socket or session that emitted).
 */
export class TypedEmitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Call `listener` on every `event`; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  /** Call `listener` on the next `event` only; returns a function that removes it. */
  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  /** Stop calling `listener` on `event`. */
  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  /** The next `event` whose payload passes `match` (every one by default), or a rejection after `timeoutMs`. */
  next<K extends keyof Events>(event: K, { match, timeoutMs }: { match?: (payload: Events[K]) => boolean; timeoutMs?: number } = {}) {
    return new Promise<Events[K]>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              off();
              reject(new Error(`no ${String(event)} within ${timeoutMs} ms`));
            }, timeoutMs);
      const off = this.on(event, (payload) => {
        if (match && !match(payload)) return;
        off();
        clearTimeout(timer);
        resolve(payload);
      });
    });
  }

  /** Call every listener of `event` with `payload`, in the order they were added. */
  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (err) {
        console.error(`listener of ${String(event)} failed`, err);
      }
    }
  }
}
